import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayWeb
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Two-person approval on the pages, the link page and the JSON API (`two-key-db` needs two).
@Suite struct QuorumPageTests {
    @Test("The Access Requests page shows 1 of 2; whoever approved sees that instead of the buttons; another reviewer's approval decides")
    func accessRequestsPage() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request(resource: "two-key-db")
        try await fixture.application().test(.router) { client in
            let ann = WebClient(client)
            try await ann.signIn(fixture, as: "approver1@example.test")
            let path = "/requests/\(request.id)/decision"
            let list = try await ann.get("/requests")
            #expect(list.body.contains("0 of 2 approvals"))
            let approved = try await ann.post(path, [("csrf", try #require(list.field("csrf", inFormPosting: path))), ("return_to", "/requests"), ("action", "approve")])
            #expect(approved.status == .seeOther)
            let after = try await ann.get("/requests")
            #expect(after.body.contains("1 of 2 approvals") && after.body.contains("You approved; waiting for another reviewer"))
            #expect(after.field("csrf", inFormPosting: path) == nil, "no decision form for the reviewer who approved")
            let own = try await ann.get("/requests/\(request.id)")
            #expect(own.body.contains("id=\"approvals-count\">1 of 2<") && own.body.contains("id=\"you-approved\""))
            #expect(own.body.contains("Ann Approver &lt;approver1@example.test&gt; approved (web)"))
        }
        try await fixture.application().test(.router) { client in
            let abe = WebClient(client)
            try await abe.signIn(fixture, as: "approver2@example.test")
            let path = "/requests/\(request.id)/decision"
            let page = try await abe.get("/requests/\(request.id)")
            #expect(page.body.contains("1 of 2") && page.field("csrf", inFormPosting: path) != nil)
            let decided = try await abe.post(path, [("csrf", try #require(page.field("csrf", inFormPosting: path))), ("return_to", "/requests/\(request.id)"), ("action", "approve")])
            #expect(decided.status == .seeOther)
        }
        let stored = try #require(try await fixture.store.request(id: request.id))
        #expect(stored.state == .approved && stored.approvalCount == 2)
    }

    @Test("A duplicate approval through the link after a reply is refused with a clear answer; the link page says so")
    func linkAfterReply() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request(resource: "two-key-db")
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let linkPath = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            // The confirmation page is open in a tab when the reviewer approves by reply.
            let page = try await browser.get(linkPath)
            let csrf = try #require(page.field("csrf", inFormPosting: linkPath))
            let token = try #require(page.field("token"))
            let reply = try await fixture.gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .reply), now: fixture.clock.now)
            guard case .approvalRecorded = reply else { return #expect(Bool(false), "\(reply)") }
            let again = try await browser.post(linkPath, [("csrf", csrf), ("token", token), ("intent", "decide"), ("action", "approve")])
            #expect(again.status == .conflict && again.body.contains("You already approved this request"))
            let reopened = try await browser.get(linkPath)
            #expect(reopened.body.contains("You already approved this request") && reopened.field("csrf", inFormPosting: linkPath) == nil)
        }
        #expect(try await fixture.store.request(id: request.id)?.approvalCount == 1)
        let refused = try await fixture.store.auditLog(requestID: request.id).last { $0.action == .decide }
        #expect(refused?.outcome == .refused && refused?.reason == "already_approved" && refused?.channel == .link)
    }

    @Test("API: the first approval answers result approval_recorded (1 of 2), a repeat 409 already_approved, the second decided")
    func api() async throws {
        let fixture = try await WebFixture()
        let document = try OpenAPIDocument(path: WebFixture.projectRoot.appendingPathComponent("templates/web/openapi.yaml").path)
        let ann = try await fixture.service.createAPIKey(name: "ann", owner: .user("approver1@example.test"), expiresAt: nil).secret
        let rex = try await fixture.service.createAPIKey(name: "rex", owner: .user("reviewer@example.test"), expiresAt: nil).secret
        let request = try await fixture.request(resource: "two-key-db")
        try await fixture.application().test(.router) { client in
            let api = APITests.API(client: client, document: document)
            var result = try await api.call(.post, "/requests/\(request.id)/decision", ["action": "approve", "duration": "1h"], key: ann)
            #expect(result.status == 200 && result.json["result"] as? String == "approval_recorded")
            let body = try #require(result.json["request"] as? [String: Any])
            #expect(body["status"] as? String == "pending" && body["approvals"] as? Int == 1 && body["approvals_required"] as? Int == 2)
            result = try await api.call(.post, "/requests/\(request.id)/decision", ["action": "approve"], key: ann)
            #expect(result.status == 409 && result.json["reason"] as? String == "already_approved")
            result = try await api.call(.post, "/requests/\(request.id)/decision", ["action": "approve"], key: rex)
            #expect(result.status == 200 && result.json["result"] as? String == "decided")
            let grant = try #require(result.json["grant"] as? [String: Any])
            // The shortest approval wins: ann chose 1 hour of the 4 asked.
            let starts = try #require((grant["starts_at"] as? String).flatMap(RFC3339.date(from:)))
            let ends = try #require((grant["ends_at"] as? String).flatMap(RFC3339.date(from:)))
            #expect(ends.timeIntervalSince(starts) == 3600)
        }
        #expect(document.problems == [])
    }
}
