import Foundation
import Testing
@testable import GatewayCore

@Suite struct RequestRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let requester = User(email: "requester1@example.test", name: "Rita")
    let resource = Resource(name: "prod-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 4 * 3600], pendingTTL: 7200)

    func validate(_ new: NewAccessRequest, lock: AccessLock? = nil, pending: AccessRequest? = nil) -> Result<RequestRules.Accepted, RequestError> {
        Result { () throws(RequestError) in
            try RequestRules.validate(new, requester: requester, resource: resource, lock: lock, pending: pending, now: now)
        }
    }

    @Test func acceptsAnAllowedDurationAndSetsTheDeadline() throws {
        let accepted = try validate(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: " on call ", durationSeconds: 14_400)).get()
        #expect(accepted.kind == .jit)
        #expect(accepted.durationSeconds == 14_400)
        #expect(accepted.reason == "on call")
        #expect(accepted.expiresAt == now.addingTimeInterval(7200))
    }

    @Test func defaultsToTheShortestDuration() throws {
        let accepted = try validate(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "x")).get()
        #expect(accepted.durationSeconds == 3600)
    }

    @Test func refusesAnotherDuration() {
        let result = validate(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "x", durationSeconds: 8 * 3600))
        #expect(throws: RequestError.self) { try result.get() }
        if case .failure(let error) = result {
            #expect(error.code == .durationNotAllowed)
            #expect(error.detail.contains("1h, 4h"))
        }
    }

    @Test(arguments: ["", "   \n"])
    func refusesAnEmptyReason(reason: String) {
        #expect(validate(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: reason)).failureCode == .missingReason)
    }

    @Test func refusesASecondPendingRequestButNotAfterItsDeadline() {
        let pending = AccessRequest(
            id: 3, kind: .jit, requester: "requester1@example.test", resource: "prod-db", reason: "x",
            durationSeconds: 3600, state: .pending, createdAt: now, expiresAt: now.addingTimeInterval(10)
        )
        let new = NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "again")
        #expect(validate(new, pending: pending).failureCode == .duplicatePending)
        var overdue = pending
        overdue.expiresAt = now
        #expect(validate(new, pending: overdue).failureCode == nil)
    }

    @Test func lockedAccessAsksForAnUnlock() throws {
        let lock = AccessLock(user: "requester1@example.test", resource: "prod-db", lockedAt: now)
        let automatic = try validate(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "back"), lock: lock).get()
        #expect(automatic.kind == .unlock)
        #expect(automatic.durationSeconds == nil)
        #expect(validate(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "x", kind: .jit), lock: lock).failureCode == .accessLocked)
        #expect(validate(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "x", kind: .unlock)).failureCode == .notLocked)
        var lifted = lock
        lifted.liftedAt = now
        #expect(try validate(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "x"), lock: lifted).get().kind == .jit)
    }

    @Test func unknownRequesterOrResource() {
        let new = NewAccessRequest(requester: "nobody@example.test", resource: "prod-db", reason: "x")
        let noRequester = Result { () throws(RequestError) in try RequestRules.validate(new, requester: nil, resource: resource, lock: nil, pending: nil, now: now) }
        #expect(noRequester.failureCode == .unknownRequester)
        let noResource = Result { () throws(RequestError) in try RequestRules.validate(new, requester: requester, resource: nil, lock: nil, pending: nil, now: now) }
        #expect(noResource.failureCode == .unknownResource)
    }
}

extension Result where Failure == RequestError {
    var failureCode: RequestError.Code? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}
