import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayStore
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

/// The admin pages (users, resources and their approvers, notification settings) and the requester pages.
@Suite struct AdminPageTests {
    /// A user's page lists their requests and grants.
    @Test func userPageListsRequestsAndGrants() async throws {
        let fixture = try await WebFixture()
        let approved = try await fixture.request("requester1@example.test")
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: approved.id, reviewer: "approver1@example.test", action: .approve, channel: .cli), now: fixture.clock.now)
        let pending = try await fixture.request("requester1@example.test", resource: "staging-web")
        let someoneElse = try await fixture.request("requester2@example.test", resource: "staging-web")
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "admin@example.test")
            let users = try await browser.get("/users")
            #expect(users.body.contains("Rita Requester") && users.body.contains("db-approvers"))
            let page = try await browser.get("/users/requester1@example.test")
            #expect(Set(AccessRequestsPageTests.ids(in: page.body)) == [approved.id, pending.id])
            #expect(!AccessRequestsPageTests.ids(in: page.body).contains(someoneElse.id))
            #expect(page.body.contains("<h2>Grants</h2>") && page.body.contains("href=\"/requests/\(approved.id)\">#\(approved.id)</a>"))
            #expect(page.body.contains(">active</span>"))
            // The page's own return paths encode the address: they lead back to it.
            let encoded = try await browser.get("/users/requester1%40example.test")
            #expect(encoded.status == .ok && Set(AccessRequestsPageTests.ids(in: encoded.body)) == [approved.id, pending.id])

            // Revoke: the grant ends now, with the reason, and the page says so.
            let grant = try #require(try await fixture.store.read { try $0.grant(requestID: approved.id) })
            let action = "/grants/\(grant.id)/revoke"
            #expect(page.body.contains("id=\"revoke-\(grant.id)\""))
            let revoked = try await browser.post(action, [
                ("csrf", try #require(page.field("csrf", inFormPosting: action))), ("return_to", "/users/requester1@example.test"), ("reason", "rotation ended"),
            ])
            #expect(revoked.status == .seeOther && revoked.location == "/users/requester1@example.test")
            let after = try await browser.get("/users/requester1@example.test")
            #expect(after.body.contains(">revoked</span> by admin@example.test: rotation ended") && !after.body.contains("id=\"revoke-"))
            #expect(try await fixture.service.accessStatus(user: "requester1@example.test", resource: "prod-db", by: .cli).isAllowed == false)
        }
    }

    /// A fixture where requester1 holds a running grant on prod-db (approved by approver1).
    static func fixtureWithGrant() async throws -> (WebFixture, Grant) {
        let fixture = try await WebFixture()
        let approved = try await fixture.request("requester1@example.test")
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: approved.id, reviewer: "approver1@example.test", action: .approve, channel: .cli), now: fixture.clock.now)
        return (fixture, try #require(try await fixture.store.read { try $0.grant(requestID: approved.id) }))
    }

    @Test("The resource page lists the running grants with Revoke; revoking there ends the grant and comes back")
    func resourcePageRevokes() async throws {
        let (fixture, grant) = try await Self.fixtureWithGrant()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "reviewer@example.test")
            let page = try await browser.get("/resources/prod-db")
            #expect(page.body.contains("<h2>Running grants</h2>") && page.body.contains("id=\"revoke-\(grant.id)\""))
            let action = "/grants/\(grant.id)/revoke"
            let revoked = try await browser.post(action, [("csrf", try #require(page.field("csrf", inFormPosting: action))), ("return_to", "/resources/prod-db")])
            #expect(revoked.location == "/resources/prod-db")
            #expect(try await browser.get("/resources/prod-db").body.contains("Nobody has access to this resource now."))
            let ended = try #require(try await fixture.store.read { try $0.grant(id: grant.id) })
            #expect(ended.revokedBy == "reviewer@example.test" && ended.revokeReason == nil)
        }
    }

    @Test("A resource approver sees no Revoke and cannot post one")
    func approverCannotRevoke() async throws {
        let (fixture, grant) = try await Self.fixtureWithGrant()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let page = try await browser.get("/requests")
            let refused = try await browser.post("/grants/\(grant.id)/revoke", [("csrf", try #require(page.field("csrf", inFormPosting: "/logout"))), ("reason", "x")])
            #expect(refused.status == .notFound || refused.status == .forbidden)
            #expect(try await fixture.service.accessStatus(user: "requester1@example.test", resource: "prod-db", by: .cli).isAllowed)
        }
    }

    /// A resource's page lists every open request for it; the Approvers dialog edits its approver
    /// groups, audited, and the edit survives reopening the database.
    @Test func resourcePageAndApproversDialog() async throws {
        let fixture = try await WebFixture()
        let one = try await fixture.request("requester1@example.test")
        let two = try await fixture.request("requester2@example.test")
        let decided = try await fixture.request("approver3@example.test")
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: decided.id, reviewer: "admin@example.test", action: .deny, channel: .cli), now: fixture.clock.now)
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "admin@example.test")
            let page = try await browser.get("/resources/prod-db")
            #expect(Set(AccessRequestsPageTests.ids(in: page.body)) == [one.id, two.id])
            #expect(page.body.contains("id=\"edit-approvers\""))
            #expect(!page.body.contains("<dialog"))
            let dialog = try await browser.get("/resources/prod-db?dialog=approvers")
            #expect(dialog.body.contains("<dialog open id=\"approvers\""))
            #expect(dialog.body.contains("value=\"db-approvers\" checked"))
            #expect(dialog.body.contains("value=\"web-approvers\">"))
            let path = "/resources/prod-db/approvers"
            let csrf = try #require(dialog.field("csrf", inFormPosting: path))
            let unknown = try await browser.post(path, [("csrf", csrf), ("group", "no-such-group")])
            #expect(unknown.status == .badRequest && unknown.body.contains("no-such-group"))
            let saved = try await browser.post(path, [("csrf", csrf), ("group", "db-approvers"), ("group", "web-approvers")])
            #expect(saved.location == "/resources/prod-db?saved=1")
            #expect(try await browser.get("/resources/prod-db?saved=1").body.contains("db-approvers, web-approvers"))

            // An access reviewer sees the page but cannot edit.
            let reviewer = WebClient(client)
            try await reviewer.signIn(fixture, as: "reviewer@example.test")
            let readOnly = try await reviewer.get("/resources/prod-db?dialog=approvers")
            #expect(readOnly.status == .ok && !readOnly.body.contains("<dialog"))
        }
        #expect(try await fixture.store.resource(named: "prod-db")?.approverGroups == ["db-approvers", "web-approvers"])
        let audit = try #require(try await fixture.store.auditLog(requestID: nil).last { $0.action == .approverGroups })
        #expect(audit.actor == "admin@example.test" && audit.channel == .web)
        #expect(audit.detail["before"] == "db-approvers" && audit.detail["after"] == "db-approvers,web-approvers")
        let reopened = try SQLiteStore(path: fixture.store.path)
        #expect(try await reopened.resource(named: "prod-db")?.approverGroups == ["db-approvers", "web-approvers"])
        // approver3 (web-approvers) now reviews prod-db requests.
        let now = fixture.clock.now
        #expect(try await reopened.read { try $0.openRequestCount(decidableBy: "approver3@example.test", now: now) } == 2)
    }

    /// Notification settings: admin-role users' switches are edited (audited); approvers are listed
    /// as always notified and cannot be edited.
    @Test func notificationSettings() async throws {
        let fixture = try await WebFixture()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "admin@example.test")
            let page = try await browser.get("/settings/notifications")
            #expect(page.body.contains("name=\"new:reviewer@example.test\" value=\"on\" aria-label=\"New requests for reviewer@example.test\" checked"))
            #expect(page.body.contains("class=\"fixed\"><td>Ann Approver"))
            #expect(!page.body.contains("name=\"new:approver1@example.test\""))
            let csrf = try #require(page.field("csrf", inFormPosting: "/settings/notifications"))
            let saved = try await browser.post("/settings/notifications", [
                ("csrf", csrf), ("user", "admin@example.test"), ("new:admin@example.test", "on"), ("outcomes:admin@example.test", "on"),
                ("user", "reviewer@example.test"),
                // Not an admin-role user: ignored.
                ("user", "approver1@example.test"), ("outcomes:approver1@example.test", "on"),
            ])
            #expect(saved.status == .ok && saved.body.contains("Settings saved"))
        }
        #expect(try await fixture.store.notificationPreferences(for: "admin@example.test") == NotificationPreferences(newRequests: true, outcomes: true))
        #expect(try await fixture.store.notificationPreferences(for: "reviewer@example.test") == NotificationPreferences(newRequests: false, outcomes: false))
        #expect(try await fixture.store.notificationPreferences(for: "approver1@example.test") == .default)
        let audited = try await fixture.store.auditLog(requestID: nil).filter { $0.action == .notificationPreferences && $0.actor == "admin@example.test" }
        #expect(Set(audited.compactMap { $0.detail["user"] }) == ["admin@example.test", "reviewer@example.test"])
    }

    /// A signed-in user requests access (duration from the resource's options, a reason), sees and
    /// cancels their own requests.
    @Test func requesterRequestsSeesAndCancels() async throws {
        let fixture = try await WebFixture()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "requester1@example.test")
            #expect(try await browser.get("/request-access").body.contains("href=\"/request-access/prod-db\""))
            let form = try await browser.get("/request-access/prod-db")
            #expect(form.body.contains("<option value=\"14400\">4 hours</option>"))
            let path = "/request-access/prod-db"
            let csrf = try #require(form.field("csrf", inFormPosting: path))
            let refused = try await browser.post(path, [("csrf", csrf), ("duration", "7200"), ("reason", "deploy")])
            #expect(refused.status == .badRequest && refused.body.contains("not an allowed duration"))
            let missing = try await browser.post(path, [("csrf", csrf), ("duration", "3600"), ("reason", "  ")])
            #expect(missing.status == .badRequest && missing.body.contains("a reason is required"))
            let created = try await browser.post(path, [("csrf", csrf), ("duration", "14400"), ("reason", "deploy 7")])
            let location = try #require(created.location)
            #expect(location.hasPrefix("/my-requests?created="))
            let id = try #require(Int64(location.split(separator: "=").last!))
            let mine = try await browser.get(location)
            #expect(AccessRequestsPageTests.ids(in: mine.body) == [id])
            #expect(mine.body.contains("deploy 7"))
            let cancelPath = "/my-requests/\(id)/cancel"
            let cancelled = try await browser.post(cancelPath, [("csrf", try #require(mine.field("csrf", inFormPosting: cancelPath)))])
            #expect(cancelled.location == "/my-requests")
            #expect(try await fixture.store.request(id: id)?.state == .cancelled)

            // Someone else's request cannot be cancelled from here.
            let other = try await fixture.request("requester2@example.test")
            #expect(try await browser.get("/requests/\(other.id)").status == .notFound)
        }
        let created = try await fixture.store.requests(RequestFilter(requester: "requester1@example.test"))
        #expect(created.first?.durationSeconds == 14_400 && created.first?.reason == "deploy 7")
    }
}
