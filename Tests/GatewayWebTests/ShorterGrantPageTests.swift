import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

/// Granting less than asked from the Access Requests page and from a link's confirmation page.
@Suite struct ShorterGrantPageTests {
    @Test("The Access Requests page offers shorter grants; choosing 1 hour of the 4 asked grants 1 hour")
    func accessRequestsPage() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let page = try await browser.get("/requests")
            #expect(page.body.contains("<select name=\"duration\"") && page.body.contains("<option value=\"1h\">for 1 hour only</option>"))
            #expect(page.body.contains("for 4 hours (as asked)") && !page.body.contains("<option value=\"8h\">"))
            let path = "/requests/\(request.id)/decision"
            let decided = try await browser.post(path, [
                ("csrf", try #require(page.field("csrf", inFormPosting: path))), ("return_to", "/requests"), ("action", "approve"), ("duration", "1h"),
            ])
            #expect(decided.status == .seeOther)
            let grant = try #require(try await fixture.store.read { try $0.grant(requestID: request.id) })
            #expect(grant.endsAt.timeIntervalSince(grant.startsAt) == 3600)
        }
    }

    @Test("A link's page offers shorter grants; a forged longer one is refused and nothing changes")
    func linkPage() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let linkPath = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let page = try await browser.get(linkPath)
            #expect(page.body.contains("<select id=\"duration\" name=\"duration\">"))
            let csrf = try #require(page.field("csrf", inFormPosting: linkPath)), token = try #require(page.field("token"))
            let tooLong = try await browser.post(linkPath, [("csrf", csrf), ("token", token), ("action", "approve"), ("duration", "12h")])
            #expect(tooLong.status == .conflict && tooLong.body.contains("longer than the 4 hours asked for"))
            #expect(try await fixture.store.request(id: request.id)?.state == .pending)
            let approved = try await browser.post(linkPath, [("csrf", csrf), ("token", token), ("action", "approve"), ("duration", "30m")])
            #expect(approved.status == .ok)
            let grant = try #require(try await fixture.store.read { try $0.grant(requestID: request.id) })
            #expect(grant.endsAt.timeIntervalSince(grant.startsAt) == 1800)
        }
    }
}
