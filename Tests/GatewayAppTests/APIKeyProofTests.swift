import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import Testing

/// API keys prove who acts (AUTHZ-6): a personal key acts only as its user, with the user's rights
/// at the time of the call; an integration key acts as nobody, within its scopes.
@Suite struct APIKeyProofTests {
    func key(_ gateway: TestGateway, _ owner: APIKeyOwner, name: String = "k", expiresAt: Date? = nil) async throws -> (APIKey, String) {
        let created = try await gateway.service.createAPIKey(name: name, owner: owner, expiresAt: expiresAt)
        let key = try #require(try await gateway.service.authenticateAPIKey(created.secret))
        return (key, created.secret)
    }

    @Test("AUTHZ-6: a requester's personal key cannot decide their own request, nor name another reviewer")
    func personalKeyOfRequester() async throws {
        let gateway = try await Fixture.gateway()
        let request = try await Fixture.open(gateway)
        let (key, _) = try await key(gateway, .user("requester1@example.test"))

        let own = try await gateway.service.decide(DecisionCommand(requestID: request.id, action: .approve, proof: .apiKey(key, namedReviewer: nil)))
        #expect(own.refusalCode == .selfDecision)
        let impersonating = try await gateway.service.decide(DecisionCommand(requestID: request.id, action: .approve, proof: .apiKey(key, namedReviewer: "admin@example.test")))
        #expect(impersonating.refusalCode == .forbidden)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        let audit = try await gateway.store.auditLog(requestID: request.id).filter { $0.action == .decide }
        #expect(audit.map(\.outcome) == [.refused, .refused])
        #expect(audit.last?.detail["api_key"] == "k")
    }

    @Test("AUTHZ-6: a personal key cannot open a request for someone else")
    func personalKeyNamesRequester() async throws {
        let gateway = try await Fixture.gateway()
        let (key, _) = try await key(gateway, .user("requester1@example.test"))
        await #expect(throws: AccessDenied.self) {
            _ = try await gateway.service.openRequest(RequestDraft(requester: "requester2@example.test", resource: "prod-db", reason: "x"), by: .apiKey(key))
        }
        let own = try await gateway.service.openRequest(RequestDraft(resource: "prod-db", reason: "x"), by: .apiKey(key))
        #expect(own.requester == "requester1@example.test")
    }

    @Test("AUTHZ-6: an approver's personal key decides their resource and is refused on another")
    func personalKeyOfApprover() async throws {
        let gateway = try await Fixture.gateway()
        let db = try await Fixture.open(gateway)
        let web = try await Fixture.open(gateway, resource: "staging-web")
        let (key, _) = try await key(gateway, .user("approver1@example.test"))
        let other = try await gateway.service.decide(DecisionCommand(requestID: web.id, action: .approve, proof: .apiKey(key, namedReviewer: nil)))
        #expect(other.refusalCode == .notAllowed)
        let decided = try await gateway.service.decide(DecisionCommand(requestID: db.id, action: .approve, proof: .apiKey(key, namedReviewer: "Approver1@example.test")))
        #expect(decided.decidedRequest?.decision?.reviewer == "approver1@example.test")
        #expect(decided.decidedRequest?.decision?.channel == .api)
    }

    @Test("AUTHZ-6: rights are the user's at the time of the call (AUTHZ-2)")
    func personalKeyRightsAtCallTime() async throws {
        let gateway = try await Fixture.gateway()
        let request = try await Fixture.open(gateway)
        let (key, _) = try await key(gateway, .user("approver1@example.test"))
        try await gateway.setGroupMembers([], group: "db-approvers", now: gateway.clock.now)
        let outcome = try await gateway.service.decide(DecisionCommand(requestID: request.id, action: .approve, proof: .apiKey(key, namedReviewer: nil)))
        #expect(outcome.refusalCode == .notAllowed)
    }

    @Test("AUTHZ-6: an integration key never decides, whatever its scopes")
    func integrationKeyCannotDecide() async throws {
        let gateway = try await Fixture.gateway()
        let (key, _) = try await key(gateway, .integration(Set(APIScope.allCases)))
        let created = try await gateway.service.openRequest(RequestDraft(requester: "requester1@example.test", resource: "prod-db", reason: "bot"), by: .apiKey(key))
        #expect(created.requester == "requester1@example.test")
        let outcome = try await gateway.service.decide(DecisionCommand(requestID: created.id, action: .approve, proof: .apiKey(key, namedReviewer: "admin@example.test")))
        #expect(outcome.refusalCode == .forbidden)
        #expect(try await gateway.store.request(id: created.id)?.state == .pending)
    }

    @Test("AUTHZ-6: each integration call needs its scope")
    func integrationScopes() async throws {
        let gateway = try await Fixture.gateway()
        let (reader, _) = try await key(gateway, .integration([.accessRead]), name: "proxy")
        _ = try await gateway.service.accessStatus(user: "requester1@example.test", resource: "prod-db", by: .apiKey(reader))
        await #expect(throws: AccessDenied.self) { try await gateway.service.recordUsage(user: "requester1@example.test", resource: "prod-db", by: .apiKey(reader)) }
        await #expect(throws: AccessDenied.self) { _ = try await gateway.service.requests(RequestFilter(), by: .apiKey(reader)) }
        await #expect(throws: AccessDenied.self) {
            _ = try await gateway.service.openRequest(RequestDraft(requester: "requester1@example.test", resource: "prod-db", reason: "x"), by: .apiKey(reader))
        }
        await #expect(throws: AccessDenied.self) {
            _ = try await gateway.service.setGroupMembers(["requester1@example.test"], group: "db-approvers", create: false, by: .apiKey(reader))
        }
        #expect(try await gateway.store.groups().first { $0.name == "db-approvers" }?.members == ["approver1@example.test"])
    }

    @Test("AUTHZ-6: directory changes need directory:write, or an admin or devops user's personal key; each is audited with the key")
    func directoryWrite() async throws {
        let gateway = try await Fixture.gateway()
        let (member, _) = try await key(gateway, .user("approver3@example.test"), name: "member")
        await #expect(throws: AccessDenied.self) {
            _ = try await gateway.service.setApproverGroups(["web-approvers"], resource: "prod-db", by: .apiKey(member))
        }
        let (devops, _) = try await key(gateway, .user("devops@example.test"), name: "devops")
        _ = try await gateway.service.setApproverGroups(["db-approvers", "web-approvers"], resource: "prod-db", by: .apiKey(devops))
        let (sync, _) = try await key(gateway, .integration([.directoryWrite]), name: "idp-sync")
        _ = try await gateway.service.setGroupMembers(["approver1@example.test", "requester2@example.test"], group: "db-approvers", create: false, by: .apiKey(sync))
        let audit = try await gateway.store.auditLog(requestID: nil)
        #expect(audit.contains { $0.action == .approverGroups && $0.actor == "devops@example.test" && $0.detail["api_key"] == "devops" })
        #expect(audit.contains { $0.action == .groupMembers && $0.actor == "api-key:idp-sync" && $0.channel == .api })
    }

    @Test("A key's last use is kept to the minute: calls within it write nothing; a deactivated user's key fails at once")
    func lastUseToTheMinute() async throws {
        let gateway = try await Fixture.gateway()
        let (_, secret) = try await key(gateway, .user("approver1@example.test"), name: "laptop")
        func lastUsed() async throws -> Date? { try await gateway.service.apiKeys().first { $0.name == "laptop" }?.lastUsedAt }
        let first = try #require(try await lastUsed())
        gateway.clock.advance(by: 30)
        #expect(try await gateway.service.authenticateAPIKey(secret)?.lastUsedAt == first)
        #expect(try await lastUsed() == first)
        gateway.clock.advance(by: 31)
        #expect(try await gateway.service.authenticateAPIKey(secret) != nil)
        #expect(try await lastUsed() == first.addingTimeInterval(61))

        var directory = Fixture.directory
        directory.users = directory.users.map { user in
            var user = user
            if user.email == "approver1@example.test" { user.isActive = false }
            return user
        }
        _ = try await gateway.syncDirectory(directory, now: gateway.clock.now)
        #expect(try await gateway.service.authenticateAPIKey(secret) == nil)
    }

    @Test("AUTHZ-6: revoked and expired keys no longer authenticate; the secret is never stored")
    func revokedAndExpired() async throws {
        let gateway = try await Fixture.gateway()
        let (_, secret) = try await key(gateway, .integration([.accessRead]), name: "old")
        _ = try await gateway.service.revokeAPIKey(name: "old")
        #expect(try await gateway.service.authenticateAPIKey(secret) == nil)

        let (_, shortLived) = try await key(gateway, .user("admin@example.test"), name: "short", expiresAt: Fixture.start.addingTimeInterval(3600))
        gateway.clock.advance(by: 3601)
        #expect(try await gateway.service.authenticateAPIKey(shortLived) == nil)

        let listed = try await gateway.service.apiKeys()
        #expect(listed.map(\.name) == ["short", "old"])
        #expect(listed.last?.revokedAt != nil)
        await #expect(throws: APIKeyError.self) { _ = try await gateway.service.createAPIKey(name: "x", owner: .user("nobody@example.test"), expiresAt: nil) }
        await #expect(throws: APIKeyError.self) { _ = try await gateway.service.createAPIKey(name: "short", owner: .integration([.accessRead]), expiresAt: nil) }
    }
}
