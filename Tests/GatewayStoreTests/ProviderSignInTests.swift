import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import Testing

/// What a verified identity from the organisation's provider may be (OIDC-3, OIDC-4), on either backend.
@Suite struct ProviderSignInTests {
    func service(_ gateway: TestGateway, synced: Set<String>) throws -> ApprovalService {
        var settings = ApprovalService.Settings()
        settings.providerSyncedGroups = synced
        return ApprovalService(storage: gateway.store, keyRing: gateway.keyRing, settings: settings, clock: gateway.clock)
    }

    func identity(_ email: String?, verified: Bool = true, groups: [String]? = nil) -> ProviderIdentity {
        ProviderIdentity(issuer: "https://idp.example.test", subject: "sub-\(email ?? "none")", email: email, emailVerified: verified, groups: groups)
    }

    @Test("OIDC-3: only a verified address of an active user signs in; the address is matched case-insensitively", arguments: StoreBackend.allCases)
    func matching(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let service = try service(gateway, synced: [])
        guard case .signedIn(let session) = try await service.signIn(with: identity("Approver1@Example.TEST"), evidence: [:]) else {
            return #expect(Bool(false), "not signed in")
        }
        #expect(session.user.email == "approver1@example.test")
        #expect(try await service.viewer(sessionSecret: session.secret)?.user.email == "approver1@example.test")
        #expect(try await service.signIn(with: identity("approver1@example.test", verified: false), evidence: [:]) == .emailNotVerified(email: "approver1@example.test"))
        #expect(try await service.signIn(with: identity(nil), evidence: [:]) == .emailNotVerified(email: nil))
        #expect(try await service.signIn(with: identity("stranger@example.test"), evidence: [:]) == .notAUser(email: "stranger@example.test"))
        // A user taken out of the directory is deactivated, and refused.
        var smaller = Fixture.directory
        smaller.users.removeAll { $0.email == "approver2@example.test" }
        smaller.groups = smaller.groups.map { Group(name: $0.name, members: $0.members.subtracting(["approver2@example.test"])) }
        _ = try await gateway.syncDirectory(smaller, now: Fixture.start)
        #expect(try await service.signIn(with: identity("approver2@example.test"), evidence: [:]) == .notAUser(email: "approver2@example.test"))
    }

    @Test("OIDC-4: a claim syncs only the listed groups, an absent claim changes nothing, and the role stays the directory's", arguments: StoreBackend.allCases)
    func groupSync(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let service = try service(gateway, synced: ["db-approvers"])
        _ = try await service.signIn(with: identity("approver5@example.test", groups: ["db-approvers", "web-approvers", "admins"]), evidence: [:])
        var groups = Dictionary(uniqueKeysWithValues: try await gateway.store.read { try $0.groups() }.map { ($0.name, $0.members) })
        #expect(groups["db-approvers"]?.contains("approver5@example.test") == true)
        #expect(groups["web-approvers"]?.contains("approver5@example.test") == false)
        #expect(try await gateway.store.read { try $0.user(email: "approver5@example.test") }?.role == .member)
        // No claim: nothing changes. An empty claim: the synced group is left.
        _ = try await service.signIn(with: identity("approver5@example.test", groups: nil), evidence: [:])
        groups = Dictionary(uniqueKeysWithValues: try await gateway.store.read { try $0.groups() }.map { ($0.name, $0.members) })
        #expect(groups["db-approvers"]?.contains("approver5@example.test") == true)
        _ = try await service.signIn(with: identity("approver5@example.test", groups: []), evidence: [:])
        groups = Dictionary(uniqueKeysWithValues: try await gateway.store.read { try $0.groups() }.map { ($0.name, $0.members) })
        #expect(groups["db-approvers"] == ["approver1@example.test", "approver2@example.test"])
        let changes = try await gateway.store.auditLog(requestID: nil).filter { $0.action == .groupMembers && $0.detail["source"] == "oidc_groups" }
        #expect(changes.count == 2 && changes.allSatisfy { $0.actor == "approver5@example.test" })
        #expect(try await gateway.store.verifyAuditChain().firstBroken == nil)
    }
}
