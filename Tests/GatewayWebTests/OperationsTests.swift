import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
@testable import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

/// `/healthz`, `/metrics`, the stylesheet and the security headers.
@Suite struct OperationsTests {
    @Test func healthAndMetrics() async throws {
        let fixture = try await WebFixture()
        let approved = try await fixture.request("requester1@example.test")
        _ = try await fixture.request("requester2@example.test")
        fixture.clock.advance(by: 120)
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: approved.id, reviewer: "approver1@example.test", action: .approve, channel: .cli), now: fixture.clock.now)
        let claimed = try await fixture.store.claimOutbox(now: fixture.clock.now, limit: 2, lease: 60)
        try await fixture.store.markOutboxSent(id: claimed[0].id, now: fixture.clock.now, retainedHeaders: [], bodyDigest: "d")
        try await fixture.store.markOutboxFailed(id: claimed[1].id, error: "550", now: fixture.clock.now)
        try await fixture.application().test(.router) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok && String(buffer: health.body) == "ok\n")
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: metrics.body)
            for line in [
                "approval_gateway_requests{state=\"pending\"} 1", "approval_gateway_requests{state=\"approved\"} 1",
                "approval_gateway_requests{state=\"denied\"} 0",
                "approval_gateway_emails_total{status=\"sent\"} 1", "approval_gateway_emails_total{status=\"failed\"} 1",
                "approval_gateway_inbox_messages_total{outcome=\"decided\"} 0",
                "approval_gateway_decision_latency_seconds_bucket{le=\"60\"} 0",
                "approval_gateway_decision_latency_seconds_bucket{le=\"300\"} 1",
                "approval_gateway_decision_latency_seconds_count 1",
                "# TYPE approval_gateway_decision_latency_seconds histogram",
            ] {
                #expect(text.contains(line + "\n"), "missing \(line)")
            }
            let sum = try #require(text.split(separator: "\n").first { $0.hasPrefix("approval_gateway_decision_latency_seconds_sum ") })
            #expect(abs((Double(sum.split(separator: " ")[1]) ?? 0) - 120) < 1)

            let css = try await client.execute(uri: "/static/app.css", method: .get)
            #expect(css.status == .ok && css.headers[.contentType] == "text/css; charset=utf-8")
            let login = try await client.execute(uri: "/login", method: .get)
            #expect(login.headers[.contentSecurityPolicy] == "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
            #expect(login.headers[.xContentTypeOptions] == "nosniff")
            #expect(!String(buffer: login.body).contains("<script"))
        }
    }
}

/// The page date format against Foundation's calendar, across eras, leap days and both sides of 1970.
@Suite struct WebDateFormatTests {
    @Test(arguments: [-86_401.0, -1, 0, 59, 951_782_400, 951_868_799, 1_709_164_800, 1_795_794_954, 4_107_542_400, 253_402_300_799])
    func matchesFoundation(_ seconds: Double) throws {
        let date = Date(timeIntervalSince1970: seconds)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let expected = String(format: "%04d-%02d-%02d %02d:%02d UTC", c.year!, c.month!, c.day!, c.hour!, c.minute!)
        #expect(WebFormat.date(date) == expected)
        var writer = HTMLWriter(capacity: 32)
        writer.date(date)
        #expect(writer.text == expected)
    }

    @Test("LINK-11: the writer escapes the five characters wherever they sit and copies the rest whole", arguments: [
        ("", ""), ("plain", "plain"), ("<b>", "&lt;b&gt;"), ("a & b", "a &amp; b"), ("\"quoted\" 'single'", "&quot;quoted&quot; &#39;single&#39;"),
        ("Zoë <ø> 東京 &", "Zoë &lt;ø&gt; 東京 &amp;"), ("&&", "&amp;&amp;"), ("end>", "end&gt;"),
    ])
    func writerEscapes(_ value: String, _ escaped: String) {
        #expect(HTMLWriter.escape(value) == escaped)
    }
}

/// LOOP-5 on the pages: a bounced notification shows on its request's page and in /metrics.
@Suite struct BouncedNotificationPageTests {
    @Test("LOOP-5: the request page names the bounced email and why; metrics count it")
    func bouncedEmailShows() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        let entry = try #require(try await fixture.store.outboxEntries(status: nil, limit: 10).first { $0.recipient == "approver2@example.test" })
        try await fixture.store.write { try $0.markOutboxBounced(id: entry.id, reason: "bounced: 5.1.1 User doesn't exist", now: Date()) }
        try await fixture.application().test(.router) { client in
            let admin = WebClient(client)
            try await admin.signIn(fixture, as: "admin@example.test")
            let page = try await admin.get("/requests/\(request.id)")
            #expect(page.body.contains("Emails that bounced") && page.body.contains("approver2@example.test") && page.body.contains("bounced: 5.1.1 User doesn"))
            // The requester, who reviews nothing, is not shown the mail of others.
            let requester = WebClient(client)
            try await requester.signIn(fixture, as: "requester1@example.test")
            #expect(!(try await requester.get("/requests/\(request.id)").body.contains("Emails that bounced")))
            #expect(try await admin.get("/metrics").body.contains("approval_gateway_emails_total{status=\"bounced\"} 1"))
        }
    }
}
