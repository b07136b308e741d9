import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

extension WebClient {
    /// Signs in as `email` the way a person does: opens an emailed sign-in link, then confirms.
    @discardableResult
    func signIn(_ fixture: WebFixture, as email: String) async throws -> Page {
        let target = try #require(try await get(fixture.link(.login, request: nil, to: email)).location)
        let page = try await get(target)
        return try await post(target, [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))), ("intent", "signin")])
    }
}

/// Sign-in from an emailed sign-in link; sessions and signing out.
@Suite struct SignInTests {
    /// LINK-1, LINK-7, LINK-8: a sign-in link signs in only on POST, once; the session cookie is
    /// HttpOnly, SameSite=Lax, Path=/. A review link never signs anyone in.
    @Test func signInLinkSignsInOnlyOnPostAndOnlyOnce() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            // A review link shows the request and offers only "Sign in to confirm".
            let review = try #require(try await browser.get(fixture.link(.review, request: request, to: "approver1@example.test")).location)
            let reviewPage = try await browser.get(review)
            #expect(reviewPage.body.contains("Sign in to confirm") && !reviewPage.body.contains("id=\"approve\""))
            let asSignIn = try await browser.post(review, [
                ("csrf", try #require(reviewPage.field("csrf", inFormPosting: review))), ("token", try #require(reviewPage.field("token"))), ("intent", "signin"),
            ])
            #expect(asSignIn.status == .forbidden)
            #expect(browser.cookies["ag_session"] == nil)

            let target = try #require(try await browser.get(fixture.link(.login, request: nil, to: "approver1@example.test")).location)
            let page = try await browser.get(target)
            #expect(page.body.contains("Sign in to approval-gateway as"))
            #expect(browser.cookies["ag_session"] == nil)
            #expect(try await browser.get("/requests").location == "/login")
            let form = [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))), ("intent", "signin")]
            let signedIn = try await browser.post(target, form)
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.location == "/requests")
            let cookie = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("ag_session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/") && !cookie.contains("Secure"))
            let detail = try await browser.get("/requests/\(request.id)")
            #expect(detail.status == .ok)
            #expect(detail.body.contains("Ann Approver") && detail.body.contains("incident 42"))

            // The same token again gives no new session.
            let other = WebClient(client)
            let again = try await other.get(target)
            #expect(again.status == .forbidden)  // this browser never had the link's cookie
            browser.forget("ag_session")
            let reused = try await browser.post(target, form)
            #expect(reused.status == .forbidden)
            #expect(browser.cookies["ag_session"] == nil)
            // The page says so, and offers no second sign-in.
            let used = try await browser.get(target)
            #expect(used.body.contains("already used") && !used.body.contains("id=\"sign-in\""))
            // Even a fresh form for it signs nobody in (the CSRF cookie was rotated at sign-in).
            let fresh = [("csrf", try #require(used.field("csrf") ?? page.field("csrf"))), ("token", try #require(page.field("token"))), ("intent", "signin")]
            let again2 = try await browser.post(target, fresh)
            #expect(again2.status == .forbidden && browser.cookies["ag_session"] == nil)
        }
        #expect(try await fixture.store.auditLog(requestID: nil).filter { $0.action == .signIn && $0.outcome == .accepted }.count == 1)
    }

    /// The login page answers the same whether or not the address is known; a known address gets a
    /// sign-in email through the outbox; requests are rate-limited per address.
    @Test func loginPageAnswersTheSameAndRateLimits() async throws {
        let fixture = try await WebFixture()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            func ask(_ email: String) async throws -> WebClient.Page {
                let page = try await browser.get("/login")
                return try await browser.post("/login", [("csrf", try #require(page.field("csrf"))), ("email", email)])
            }
            let known = try await ask("Approver1@Example.test")
            let unknown = try await ask("nobody@example.test")
            #expect(known.status == .ok && unknown.status == .ok)
            #expect(known.body.replacingOccurrences(of: "approver1@example.test", with: "X") == unknown.body.replacingOccurrences(of: "nobody@example.test", with: "X"))
            let mail = try await fixture.store.outboxEntries(status: nil, limit: 10)
            #expect(mail.count == 1)
            let entry = try #require(mail.first)
            #expect(entry.kind == .signIn && entry.recipient == "approver1@example.test")
            #expect(entry.context["login_url"] == nil)
            let path = try await fixture.signInPath(entry)
            let claims = try fixture.signer.verify(String(path.dropFirst("/login/".count)), purpose: .login, now: fixture.clock.now)
            #expect(claims.expiresAt.timeIntervalSince(fixture.clock.now) <= 15 * 60)

            _ = try await ask("approver1@example.test")
            _ = try await ask("approver1@example.test")
            _ = try await ask("approver1@example.test")
            #expect(try await fixture.store.outboxEntries(status: nil, limit: 10).count == 3)

            // The emailed link signs in on POST only.
            let target = try #require(try await browser.get(path).location)
            let confirm = try await browser.get(target)
            #expect(confirm.body.contains("Sign in as") || confirm.body.contains("Sign in to approval-gateway as"))
            #expect(browser.cookies["ag_session"] == nil)
            let signedIn = try await browser.post(target, [("csrf", try #require(confirm.field("csrf", inFormPosting: target))), ("token", try #require(confirm.field("token"))), ("intent", "signin")])
            #expect(signedIn.location == "/requests")
            #expect(browser.cookies["ag_session"] != nil)
        }
    }

    /// Sessions end on sign-out (server-side) and on expiry.
    @Test func sessionsEndOnSignOutAndExpire() async throws {
        let fixture = try await WebFixture(service: { $0.sessionLifetime = 3600 })
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "admin@example.test")
            let sessionCookie = try #require(browser.cookies["ag_session"]?.value)
            let page = try await browser.get("/requests")
            #expect(page.status == .ok)
            let signedOut = try await browser.post("/logout", [("csrf", try #require(page.field("csrf", inFormPosting: "/logout")))])
            #expect(signedOut.location == "/login")
            // The old cookie no longer works: the session ended on the server.
            browser.setCookie("ag_session", sessionCookie)
            #expect(try await browser.get("/requests").location == "/login")

            try await browser.signIn(fixture, as: "admin@example.test")
            #expect(try await browser.get("/requests").status == .ok)
            fixture.clock.advance(by: 3601)
            #expect(try await browser.get("/requests").location == "/login")
        }
        #expect(try await fixture.store.auditLog(requestID: nil).filter { $0.action == .signOut }.count == 1)
    }
}
