import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import Testing

/// Early revocation: a running grant ends at once, on either backend, for the admin roles only.
@Suite struct GrantRevocationTests {
    let approvedAt = Fixture.start.addingTimeInterval(600)

    func approvedGrant(_ gateway: TestGateway) async throws -> Grant {
        let request = try await gateway.createRequest(Fixture.newRequest(duration: 4 * 3600), now: Fixture.start)
        let outcome = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .cli), now: approvedAt)
        guard case .decided(_, let grant?, _) = outcome else { return try #require(nil as Grant?, "no grant: \(outcome)") }
        return grant
    }

    func viewer(_ email: String, role: AdminRole) -> Viewer {
        Viewer(user: User(email: email, name: email, role: role), groups: [], sessionDigest: "digest", reviewableResources: [])
    }

    @Test("A revoked grant ends now: access says no at once, the requester is emailed, the audit log says who and why", arguments: StoreBackend.allCases)
    func revoke(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let grant = try await approvedGrant(gateway)
        let revokedAt = approvedAt.addingTimeInterval(1800)
        gateway.clock.set(revokedAt)
        #expect(try await gateway.store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: revokedAt).isAllowed)

        let outcome = try await gateway.service.revokeGrant(id: grant.id, reason: "  incident closed  ", by: .session(viewer("approver4@example.test", role: .accessReviewer)))
        guard case .revoked(let ended) = outcome else { return #expect(Bool(false), "not revoked: \(outcome)") }
        #expect(ended.endsAt == revokedAt && ended.revokedAt == revokedAt)
        #expect(ended.revokedBy == "approver4@example.test" && ended.revokeReason == "incident closed")
        #expect(try await gateway.store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: revokedAt).isAllowed == false)
        #expect(try await gateway.service.accessStatus(user: "requester1@example.test", resource: "prod-db", by: .cli).isAllowed == false)

        let told = try await gateway.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .grantRevoked }
        #expect(told.map(\.recipient) == ["requester1@example.test"])
        #expect(told.first?.context["revoke_reason"] == "incident closed" && told.first?.context["revoked_by"] == "approver4@example.test")
        let audit = try await gateway.store.auditLog(requestID: grant.requestID).filter { $0.action == .revoke }
        #expect(audit.count == 1 && audit.first?.actor == "approver4@example.test" && audit.first?.detail["reason"] == "incident closed")
        #expect(try await gateway.store.verifyAuditChain().firstBroken == nil)

        // Once is enough: a second revocation changes nothing and tells nobody.
        let again = try await gateway.service.revokeGrant(id: grant.id, reason: nil, by: .cli)
        #expect(again == .alreadyEnded(ended))
        #expect(try await gateway.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .grantRevoked }.count == 1)
    }

    @Test("Only the admin roles and the operator revoke; unknown grants and users without a running grant are refused", arguments: StoreBackend.allCases)
    func rights(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let grant = try await approvedGrant(gateway)
        gateway.clock.set(approvedAt.addingTimeInterval(60))
        let member = viewer("approver1@example.test", role: .member)
        await #expect(throws: AccessDenied.self) {
            try await gateway.service.revokeGrant(id: grant.id, reason: nil, by: .session(member))
        }
        await #expect(throws: RequestError.self) { try await gateway.service.revokeGrant(id: 9_999, reason: nil, by: .cli) }
        let revoked = try await gateway.service.revokeGrants(user: "requester1@example.test", resource: "prod-db", reason: nil, by: .cli)
        #expect(revoked.map(\.id) == [grant.id] && revoked.first?.revokedBy == nil)
        do {
            _ = try await gateway.service.revokeGrants(user: "requester1@example.test", resource: "prod-db", reason: nil, by: .cli)
            Issue.record("a second revocation found a running grant")
        } catch let error as RequestError {
            #expect(error.code == .noActiveGrant)
        }
    }
}
