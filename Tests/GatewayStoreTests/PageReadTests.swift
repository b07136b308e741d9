import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import Testing

/// What a signed-in page reads, on both backends: the viewer (session, user, groups, every
/// resource in one read) and a page's listing (requests, names, the viewer's approvals so far and
/// the bell in one read).
@Suite struct PageReadTests {
    /// A live session for `email`, as a sign-in would store it; returns the browser's secret.
    static func session(_ gateway: TestGateway, for email: String, expiresAt: Date) async throws -> String {
        let secret = Secrets.randomToken()
        try await gateway.store.write { tx in
            try tx.insertSession(idDigest: Secrets.sha256Hex(secret), user: email, expiresAt: expiresAt, now: Fixture.start)
        }
        return secret
    }

    @Test("A session's viewer carries the user's groups, rights and every resource; an ended session, an expired one or an inactive user give none", arguments: StoreBackend.allCases)
    func viewerFromSession(backend: StoreBackend) async throws {
        let gateway = try await QuorumTests.gateway(backend).gateway
        let secret = try await Self.session(gateway, for: "approver1@example.test", expiresAt: Fixture.start.addingTimeInterval(3600))
        let viewer = try #require(try await gateway.service.viewer(sessionSecret: secret))
        #expect(viewer.user.email == "approver1@example.test" && viewer.user.name == "Ann Approver")
        #expect(viewer.groups == ["db-approvers"])
        #expect(viewer.reviewableResources == ["prod-db", "two-key-db"])
        #expect(Set(viewer.resources.keys) == ["prod-db", "staging-web", "two-key-db"])
        #expect(viewer.resources["two-key-db"]?.approvalsRequired == 2 && viewer.resources["prod-db"]?.approverGroups == ["db-approvers"])
        #expect(viewer.visibleResources.map(\.name) == ["prod-db", "two-key-db"])

        // Past its expiry the session is gone.
        gateway.clock.set(Fixture.start.addingTimeInterval(3601))
        #expect(try await gateway.service.viewer(sessionSecret: secret) == nil)
        gateway.clock.set(Fixture.start)
        // Ended by signing out.
        try await gateway.service.signOut(sessionSecret: secret)
        #expect(try await gateway.service.viewer(sessionSecret: secret) == nil)
        // A user the directory made inactive.
        let other = try await Self.session(gateway, for: "approver2@example.test", expiresAt: Fixture.start.addingTimeInterval(3600))
        #expect(try await gateway.service.viewer(sessionSecret: other) != nil)
        var directory = Fixture.directory
        directory.users = directory.users.map { user in
            var user = user
            if user.email == "approver2@example.test" { user.isActive = false }
            return user
        }
        directory.resources.append(Resource(name: "two-key-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 4 * 3600], approvalsRequired: 2))
        _ = try await gateway.syncDirectory(directory, now: Fixture.start)
        #expect(try await gateway.service.viewer(sessionSecret: other) == nil)
    }

    @Test("People by address, any number of them, each once (the SQLite store pads the list to a few statement shapes); roles add their holders", arguments: StoreBackend.allCases)
    func usersByAddress(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let known = try await gateway.store.read { try $0.users() }.map(\.email)
        for count in [1, 2, 7, 8, 9, known.count] where count <= known.count {
            // Unknown and differently-cased addresses are asked for too: they find nobody extra.
            let asked = Set(known.prefix(count).map { $0.uppercased() } + ["nobody-\(count)@example.test"])
            let found = try await gateway.store.read { try $0.users(emails: asked, orRoles: []) }.map(\.email)
            #expect(found == Array(known.prefix(count)).sorted(), "\(count) addresses")
        }
        let admins = try await gateway.store.read { try $0.users(emails: ["requester1@example.test"], orRoles: [.admin]) }.map(\.email)
        #expect(admins.contains("requester1@example.test") && admins.contains("admin@example.test") && Set(admins).count == admins.count)
        #expect(try await gateway.store.read { try $0.users(emails: [], orRoles: []) }.isEmpty)
    }

    @Test("A listing names the people on it, marks the open requests the viewer approved already and counts the bell; own listings and admin listings keep to their scope", arguments: StoreBackend.allCases)
    func listing(backend: StoreBackend) async throws {
        let gateway = try await QuorumTests.gateway(backend).gateway
        let quorum = try await QuorumTests.open(gateway)
        let plain = try await gateway.createRequest(Fixture.newRequest("requester2@example.test"), now: Fixture.start)
        let web = try await gateway.createRequest(Fixture.newRequest(resource: "staging-web", duration: nil), now: Fixture.start)
        _ = try await gateway.decide(DecisionAttempt(requestID: quorum.id, reviewer: "approver1@example.test", action: .approve, channel: .web), now: Fixture.start)
        _ = try await gateway.decide(DecisionAttempt(requestID: web.id, reviewer: "approver3@example.test", action: .deny, channel: .web), now: Fixture.start)

        let approver = try #require(try await gateway.service.viewer(sessionSecret: try await Self.session(gateway, for: "approver1@example.test", expiresAt: Fixture.start.addingTimeInterval(3600))))
        let reviewable = try await gateway.service.requestListing(.reviewable, for: approver, filter: RequestFilter())
        #expect(Set(reviewable.requests.map(\.id)) == [quorum.id, plain.id])
        #expect(reviewable.approvedByViewer == [quorum.id])
        #expect(reviewable.name(of: "requester1@example.test") == "Rita Requester" && reviewable.name(of: "requester2@example.test") == "Rob Requester")
        // The bell: approver1 may still decide the plain request, not the one they approved.
        #expect(reviewable.openRequestCount == 1)

        let admin = try #require(try await gateway.service.viewer(sessionSecret: try await Self.session(gateway, for: "admin@example.test", expiresAt: Fixture.start.addingTimeInterval(3600))))
        let everyone = try await gateway.service.requestListing(.everyone, for: admin, filter: RequestFilter(requester: "requester1@example.test"))
        #expect(Set(everyone.requests.map(\.id)) == [quorum.id, web.id])
        #expect(everyone.approvedByViewer.isEmpty && everyone.name(of: "approver3@example.test") == "Amy Approver")
        #expect(everyone.openRequestCount == 2)
        await #expect(throws: AccessDenied.self) {
            _ = try await gateway.service.requestListing(.everyone, for: approver, filter: RequestFilter())
        }

        let requester = try #require(try await gateway.service.viewer(sessionSecret: try await Self.session(gateway, for: "requester2@example.test", expiresAt: Fixture.start.addingTimeInterval(3600))))
        // Whatever the filter names, an own listing is the viewer's own requests.
        let own = try await gateway.service.requestListing(.own, for: requester, filter: RequestFilter(requester: "requester1@example.test"))
        #expect(own.requests.map(\.id) == [plain.id] && own.openRequestCount == 0)
    }
}
