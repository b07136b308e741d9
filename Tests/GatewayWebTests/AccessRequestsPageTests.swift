import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

/// The Access Requests page: visibility, filters, pagination, decisions from the list, the bell.
@Suite struct AccessRequestsPageTests {
    static func ids(in body: String) -> [Int64] {
        let regex = try! NSRegularExpression(pattern: "data-request=\"(\\d+)\"")
        return regex.matches(in: body, range: NSRange(body.startIndex..., in: body)).compactMap {
            Range($0.range(at: 1), in: body).flatMap { Int64(body[$0]) }
        }
    }

    /// A resource approver sees only the requests of their resources, and no admin page.
    @Test func approverSeesOnlyTheirResourcesRequests() async throws {
        let fixture = try await WebFixture()
        let db = try await fixture.request("requester1@example.test", resource: "prod-db")
        let web = try await fixture.request("requester1@example.test", resource: "staging-web")
        let other = try await fixture.request("requester2@example.test", resource: "staging-web")
        try await fixture.application().test(.router) { client in
            let approver3 = WebClient(client)
            try await approver3.signIn(fixture, as: "approver3@example.test")
            let page = try await approver3.get("/requests")
            #expect(Set(Self.ids(in: page.body)) == [web.id, other.id])
            #expect(!page.body.contains("href=\"/users\""))
            #expect(try await approver3.get("/requests/\(db.id)").status == .notFound)
            #expect(try await approver3.get("/requests?resource=prod-db").body.contains("No requests match"))
            for path in ["/users", "/users/admin@example.test", "/resources", "/resources/prod-db", "/settings/notifications"] {
                #expect(try await approver3.get(path).status == .notFound)
            }
            // AUTHZ-2 on the web: approver1 loads the page, is removed from the approver group, then
            // decides: refused, nothing changes.
            let approver1 = WebClient(client)
            try await approver1.signIn(fixture, as: "approver1@example.test")
            let loaded = try await approver1.get("/requests/\(db.id)")
            let path = "/requests/\(db.id)/decision"
            let csrf = try #require(loaded.field("csrf", inFormPosting: path))
            _ = try await fixture.gateway.setGroupMembers(["approver2@example.test"], group: "db-approvers", now: fixture.clock.now)
            let refused = try await approver1.post(path, [("csrf", csrf), ("action", "approve")])
            #expect(refused.status == .notFound || refused.status == .conflict)

            let admin = WebClient(client)
            try await admin.signIn(fixture, as: "admin@example.test")
            #expect(Set(Self.ids(in: try await admin.get("/requests").body)) == [db.id, web.id, other.id])
            #expect(try await admin.get("/users").status == .ok)

            // A user who reviews nothing is sent to their own requests.
            let requester = WebClient(client)
            try await requester.signIn(fixture, as: "requester1@example.test")
            #expect(try await requester.get("/requests").location == "/my-requests")
        }
        #expect(try await fixture.store.request(id: db.id)?.state == .pending)
    }

    /// Open requests and those resolved in the last 90 days, newest first, with filters and pages.
    @Test func listsRecentRequestsNewestFirstWithFiltersAndPages() async throws {
        let fixture = try await WebFixture { $0.pageSize = 2 }
        let old = try await fixture.request("requester1@example.test", resource: "staging-web")
        _ = try await fixture.gateway.cancelRequest(id: old.id, requester: "requester1@example.test", now: fixture.clock.now)
        fixture.clock.advance(by: 91 * 86_400)
        var opened: [AccessRequest] = []
        for requester in ["requester1@example.test", "requester2@example.test"] {
            for resource in ["prod-db", "staging-web"] {
                opened.append(try await fixture.request(requester, resource: resource))
                fixture.clock.advance(by: 60)
            }
        }
        let created = opened
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: created[0].id, reviewer: "admin@example.test", action: .deny, channel: .cli), now: fixture.clock.now)
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "reviewer@example.test")
            let first = try await browser.get("/requests")
            #expect(Self.ids(in: first.body) == [created[3].id, created[2].id])
            #expect(first.body.contains("rel=\"next\"") && !first.body.contains("rel=\"prev\""))
            // Keyset pages: older than the last row shown; the oldest page; back to newer.
            #expect(first.body.contains("href=\"/requests?state=recent&amp;before=\(created[2].id)\""))
            let second = try await browser.get("/requests?state=recent&before=\(created[2].id)")
            let secondIDs = Self.ids(in: second.body)
            #expect(secondIDs == [created[1].id, created[0].id])
            #expect(!second.body.contains("rel=\"next\""), "page 2 lists \(secondIDs)")
            #expect(second.body.contains("href=\"/requests?state=recent&amp;after=\(created[1].id)\""))
            #expect(Self.ids(in: try await browser.get("/requests?state=recent&last=1").body) == [created[1].id, created[0].id])
            let back = try await browser.get("/requests?state=recent&after=\(created[1].id)")
            #expect(Self.ids(in: back.body) == [created[3].id, created[2].id] && !back.body.contains("rel=\"prev\""))
            // The request resolved more than 90 days ago is not listed.
            #expect(!(Self.ids(in: first.body) + Self.ids(in: second.body)).contains(old.id))
            #expect(Self.ids(in: try await browser.get("/requests?state=denied").body) == [created[0].id])
            let filtered = try await browser.get("/requests?state=open&resource=prod-db")
            #expect(Self.ids(in: filtered.body) == [created[2].id])
            // The filter form shows the filter the page applies.
            #expect(filtered.body.contains("<option value=\"open\" selected>open</option>"))
            #expect(filtered.body.contains("<option value=\"prod-db\" selected>prod-db</option>"))
            #expect(filtered.body.contains("<option value=\"staging-web\">staging-web</option>"))
            #expect(first.body.contains("<option value=\"recent\" selected>open and last 90 days</option>"))
            #expect(Self.ids(in: try await browser.get("/requests?requester=requester1%40example.test").body) == [created[1].id, created[0].id])
        }
    }

    /// A user's page (admin) and My requests page in keyset pages too: older, oldest, newer.
    @Test func userAndOwnRequestsInPages() async throws {
        let fixture = try await WebFixture { $0.pageSize = 2 }
        var opened: [AccessRequest] = []
        for resource in ["prod-db", "staging-web", "vault"] {
            opened.append(try await fixture.request("requester1@example.test", resource: resource))
            fixture.clock.advance(by: 60)
        }
        let newestFirst = opened.reversed().map(\.id)
        try await fixture.application().test(.router) { client in
            let admin = WebClient(client)
            try await admin.signIn(fixture, as: "admin@example.test")
            let first = try await admin.get("/users/requester1@example.test")
            #expect(Self.ids(in: first.body) == Array(newestFirst[0..<2]))
            #expect(first.body.contains("href=\"/users/requester1@example.test?before=\(newestFirst[1])\""))
            #expect(Self.ids(in: try await admin.get("/users/requester1@example.test?before=\(newestFirst[1])").body) == [newestFirst[2]])
            #expect(Self.ids(in: try await admin.get("/users/requester1@example.test?last=1").body) == Array(newestFirst[1..<3]))
        }
        try await fixture.application().test(.router) { client in
            let rita = WebClient(client)
            try await rita.signIn(fixture, as: "requester1@example.test")
            let first = try await rita.get("/my-requests")
            #expect(Self.ids(in: first.body) == Array(newestFirst[0..<2]) && first.body.contains("rel=\"next\""))
            let older = try await rita.get("/my-requests?before=\(newestFirst[1])")
            #expect(Self.ids(in: older.body) == [newestFirst[2]] && !older.body.contains("rel=\"next\"") && older.body.contains("rel=\"prev\""))
            #expect(Self.ids(in: try await rita.get("/my-requests?after=\(newestFirst[2])").body) == Array(newestFirst[0..<2]))
        }
    }

    /// Approve and deny from the list and from the detail page, with a comment; without the CSRF
    /// token nothing changes.
    @Test func decidesFromTheListAndTheDetailPage() async throws {
        let fixture = try await WebFixture()
        let first = try await fixture.request("requester1@example.test")
        let second = try await fixture.request("requester2@example.test")
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let list = try await browser.get("/requests")
            let secondPath = "/requests/\(second.id)/decision", firstPath = "/requests/\(first.id)/decision"
            let secondCSRF = try #require(list.field("csrf", inFormPosting: secondPath))
            let returnTo = try #require(list.field("return_to", inFormPosting: secondPath))
            #expect(returnTo == "/requests?state=recent")
            #expect(try await browser.post(secondPath, [("action", "approve")]).status == .forbidden)
            // A form token is bound to the form's own path.
            #expect(try await browser.post(firstPath, [("csrf", secondCSRF), ("action", "approve")]).status == .forbidden)
            #expect(try await fixture.store.request(id: first.id)?.state == .pending)
            #expect(try await fixture.store.request(id: second.id)?.state == .pending)
            let decided = try await browser.post(secondPath, [("csrf", secondCSRF), ("return_to", returnTo), ("action", "approve"), ("comment", "ok for tonight")])
            #expect(decided.location == returnTo)

            let detail = try await browser.get("/requests/\(first.id)")
            let firstCSRF = try #require(detail.field("csrf", inFormPosting: firstPath))
            let denied = try await browser.post(firstPath, [("csrf", firstCSRF), ("action", "deny"), ("comment", "use staging")])
            #expect(denied.location == "/requests/\(first.id)")
            let again = try await browser.post(firstPath, [("csrf", firstCSRF), ("action", "approve")])
            #expect(again.status == .conflict)
        }
        let approved = try #require(try await fixture.store.request(id: second.id))
        #expect(approved.state == .approved && approved.decision?.channel == .web && approved.decision?.comment == "ok for tonight")
        let denied = try #require(try await fixture.store.request(id: first.id))
        #expect(denied.state == .denied && denied.decision?.comment == "use staging")
    }

    /// The bell shows a red dot while there are open requests the viewer can decide, and not for
    /// their own request or once it is decided.
    @Test func bellDotAppearsAndDisappears() async throws {
        let fixture = try await WebFixture()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            #expect(!(try await browser.get("/requests").body.contains("bell-dot")))
            _ = try await fixture.request("approver1@example.test")  // their own: not theirs to decide
            _ = try await fixture.request("requester2@example.test", resource: "staging-web")  // not their resource
            #expect(!(try await browser.get("/requests").body.contains("bell-dot")))
            let request = try await fixture.request("requester1@example.test")
            let page = try await browser.get("/my-requests")
            #expect(page.body.contains("bell-dot"))
            #expect(page.body.contains("1 open requests you can decide"))
            _ = try await fixture.gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .approve, channel: .cli), now: fixture.clock.now)
            #expect(!(try await browser.get("/requests").body.contains("bell-dot")))
            // A request that expires takes the dot with it.
            _ = try await fixture.request("requester2@example.test")
            #expect(try await browser.get("/requests").body.contains("bell-dot"))
            fixture.clock.advance(by: 25 * 3600)
            #expect(!(try await browser.get("/requests").body.contains("bell-dot")))
        }
    }
}
