import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import Testing

/// A reviewer approves for less time than asked, never more, on either backend.
@Suite struct ShorterGrantTests {
    let later = Fixture.start.addingTimeInterval(600)

    func decide(_ gateway: TestGateway, _ id: Int64, grantSeconds: Int?) async throws -> DecisionOutcome {
        gateway.clock.set(later)
        return try await gateway.service.decide(DecisionCommand(
            requestID: id, action: .approve, proof: .cli(reviewer: "approver1@example.test"), grantSeconds: grantSeconds
        ))
    }

    @Test("Approving for 1 hour of the 4 asked grants 1 hour; the outcome email carries the grant", arguments: StoreBackend.allCases)
    func shorter(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let request = try await gateway.createRequest(Fixture.newRequest(duration: 4 * 3600), now: Fixture.start)
        guard case .decided(_, let grant?, _) = try await decide(gateway, request.id, grantSeconds: 3600) else {
            return #expect(Bool(false), "not approved")
        }
        #expect(grant.endsAt == later.addingTimeInterval(3600))
        #expect(try await gateway.store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: later.addingTimeInterval(3599)).isAllowed)
        #expect(try await gateway.store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: later.addingTimeInterval(3600)).isAllowed == false)
        let outcome = try await gateway.store.outboxEntries(status: nil, limit: 100).first { $0.kind == .decided && $0.recipient == "requester1@example.test" }
        #expect(outcome?.context["granted_seconds"] == "3600")
        let audit = try await gateway.store.auditLog(requestID: request.id).last { $0.action == .decide }
        #expect(audit?.detail["granted_seconds"] == "3600")
    }

    @Test("Longer than asked, or no time at all, is refused and changes nothing; the time asked is fine", arguments: StoreBackend.allCases)
    func refused(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let request = try await gateway.createRequest(Fixture.newRequest(duration: 4 * 3600), now: Fixture.start)
        for seconds in [5 * 3600, 0] {
            guard case .refused(let refusal, _) = try await decide(gateway, request.id, grantSeconds: seconds) else {
                return #expect(Bool(false), "\(seconds) s was accepted")
            }
            #expect(refusal.code == .durationNotAllowed)
        }
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        guard case .decided(_, let grant?, _) = try await decide(gateway, request.id, grantSeconds: 4 * 3600) else {
            return #expect(Bool(false), "the time asked was refused")
        }
        #expect(grant.endsAt == later.addingTimeInterval(4 * 3600))
    }
}
