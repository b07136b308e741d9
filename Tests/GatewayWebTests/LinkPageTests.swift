import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

/// The pages emailed links open: scanner-safe GET, decisions only by POST with CSRF, within the
/// link's reviewer's signed-in session (LINK-2; see LinkSignInTests for the session rules).
@Suite struct LinkPageTests {
    /// LINK-1, TEST-4: 20 GET and 20 HEAD requests on each emailed link, and on the page it redirects
    /// to, change no request, use no token, create no session and send no mail.
    @Test func getAndHeadOnEveryLinkChangeNothing() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        let before = try await fixture.snapshot()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            for kind in WebFixture.LinkKind.allCases {
                let link = fixture.link(kind, request: kind == .login ? nil : request, to: "approver1@example.test")
                for _ in 0..<20 {
                    let get = try await browser.get(link)
                    #expect(get.status == .seeOther)
                    let target = try #require(get.location)
                    #expect(target.hasPrefix("/link/") && !target.contains(String(link.split(separator: "/").last!)))
                    #expect(try await browser.head(link).status == .seeOther)
                    let page = try await browser.get(target)
                    #expect(page.status == .ok)
                    #expect(try await browser.head(target).status == .ok)
                }
                #expect(browser.cookies["ag_session"] == nil)
            }
        }
        #expect(try await fixture.snapshot() == before)
        #expect(try await fixture.store.request(id: request.id)?.state == .pending)
    }

    /// LINK-2, LINK-9: the approve link's page preselects Approve; the POST with the link token, the
    /// cookie-bound CSRF token and the reviewer's session decides, through the one decision function
    /// on channel `link`, and the audit keeps the key id and nonce digest, never the token.
    @Test func approveLinkPostDecidesWithComment() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        let link = fixture.link(.approve, request: request, to: "approver1@example.test")
        let token = String(link.dropFirst("/decide/".count))
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let redirect = try await browser.get(link)
            let target = try #require(redirect.location)
            let page = try await browser.get(target)
            #expect(page.body.contains("incident 42") && page.body.contains("Rita Requester") && page.body.contains("prod-db"))
            #expect(page.body.contains("4 hours"))
            #expect(page.body.contains("class=\"approve primary\""))
            #expect(page.headers[.referrerPolicy] == "no-referrer")
            #expect(page.headers[.cacheControl] == "no-store")
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            #expect(page.headers[.xContentTypeOptions] == "nosniff")
            let decided = try await browser.post(target, [
                ("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))),
                ("intent", "decide"), ("action", "approve"), ("comment", "on call tonight"),
            ])
            #expect(decided.status == .ok)
            #expect(decided.body.contains("You approved request #\(request.id)"))
        }
        let after = try #require(try await fixture.store.request(id: request.id))
        #expect(after.state == .approved)
        #expect(after.decision?.channel == .link)
        #expect(after.decision?.reviewer == "approver1@example.test")
        #expect(after.decision?.comment == "on call tonight")
        let audit = try #require(try await fixture.store.auditLog(requestID: request.id).last)
        #expect(audit.outcome == .accepted)
        #expect(audit.detail["sign_in"] == "session")
        #expect(audit.detail["key_id"] == fixture.keyRing.signingKey.id)
        #expect(audit.detail["nonce_digest"] == (try fixture.signer.verify(token, purpose: .decide, now: fixture.clock.now)).nonceDigest)
        #expect(!audit.detail.values.contains { $0.contains(token) || token.contains($0) && $0.count > 20 })
        #expect(!fixture.logs.text.contains(token))
    }

    /// LINK-2: a POST without the CSRF cookie, or with a CSRF token of another form, changes nothing.
    @Test func postWithoutCSRFCookieChangesNothing() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        let before = try await fixture.snapshot()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            let target = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let page = try await browser.get(target)
            let form = [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))), ("intent", "decide"), ("action", "approve")]
            browser.forget("ag_csrf")
            let withoutCookie = try await browser.post(target, form)
            #expect(withoutCookie.status == .forbidden)
            #expect(withoutCookie.body.contains("This form has expired"))
            // A fresh cookie from another page does not match the old form either.
            _ = try await browser.get("/login")
            #expect(try await browser.post(target, form).status == .forbidden)
            // No CSRF field at all.
            #expect(try await browser.post(target, form.filter { $0.0 != "csrf" }).status == .forbidden)
            // A cross-site form post (another Origin) is refused even with the right values.
            let page2 = try await browser.get(target)
            let fresh = [("csrf", try #require(page2.field("csrf", inFormPosting: target))), ("token", try #require(page2.field("token"))), ("intent", "decide"), ("action", "approve")]
            #expect(try await browser.post(target, fresh, headers: [.origin: "https://evil.example"]).status == .forbidden)
        }
        #expect(try await fixture.snapshot() == before)
    }

    /// LINK-2, AUTHZ-2: another reviewer's token on this page, and the token of someone who is not
    /// (or no longer) an approver of the resource, change nothing.
    @Test func postWithAnotherReviewersTokenChangesNothing() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            let target = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let page = try await browser.get(target)
            let otherToken = String(fixture.link(.approve, request: request, to: "approver2@example.test").dropFirst("/decide/".count))
            let swapped = try await browser.post(target, [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", otherToken), ("intent", "decide"), ("action", "approve")])
            #expect(swapped.status == .forbidden)
            #expect(swapped.body.contains("This link is not valid"))

            // approver3 approves web-approvers' resources only.
            let strangerTarget = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver3@example.test")).location)
            let strangerPage = try await browser.get(strangerTarget)
            #expect(strangerPage.body.contains("no longer allowed"))
            #expect(!strangerPage.body.contains("id=\"approve\""))
            #expect(strangerPage.field("token") == nil)

            // approver2 is removed from the group after the email went out (AUTHZ-2).
            try await browser.signIn(fixture, as: "approver2@example.test")
            let removedTarget = try #require(try await browser.get(fixture.link(.deny, request: request, to: "approver2@example.test")).location)
            let removedPage = try await browser.get(removedTarget)
            #expect(removedPage.body.contains("id=\"deny\""))
            _ = try await fixture.gateway.setGroupMembers(["approver1@example.test"], group: "db-approvers", now: fixture.clock.now)
            let removed = try await browser.post(removedTarget, [("csrf", try #require(removedPage.field("csrf", inFormPosting: removedTarget))), ("token", try #require(removedPage.field("token"))), ("intent", "decide"), ("action", "deny")])
            #expect(removed.status == .conflict)
            #expect(removed.body.contains("no longer allowed"))
        }
        #expect(try await fixture.store.request(id: request.id)?.state == .pending)
        let refusals = try await fixture.store.auditLog(requestID: request.id).filter { $0.action == .decide }
        #expect(refusals.map(\.reason) == ["not_allowed"])
    }

    /// AUTHZ-3, LINK-8: after the request was decided, another reviewer's link and a second use of
    /// the winning link change nothing and say who decided.
    @Test func postAfterDecisionChangesNothing() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver2@example.test")
            let other = WebClient(client)
            try await other.signIn(fixture, as: "approver1@example.test")
            let firstTarget = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver2@example.test")).location)
            let firstPage = try await browser.get(firstTarget)
            let secondTarget = try #require(try await other.get(fixture.link(.deny, request: request, to: "approver1@example.test")).location)
            let secondPage = try await other.get(secondTarget)
            let firstForm = [("csrf", try #require(firstPage.field("csrf", inFormPosting: firstTarget))), ("token", try #require(firstPage.field("token"))), ("intent", "decide"), ("action", "approve")]
            #expect(try await browser.post(firstTarget, firstForm).status == .ok)

            let late = try await other.post(secondTarget, [("csrf", try #require(secondPage.field("csrf", inFormPosting: secondTarget))), ("token", try #require(secondPage.field("token"))), ("intent", "decide"), ("action", "deny")])
            #expect(late.status == .conflict)
            #expect(late.body.contains("already approved by Abe Approver"))
            let again = try await browser.post(firstTarget, firstForm.map { $0.0 == "action" ? ("action", "deny") : $0 })
            #expect(again.status == .conflict)
            let reopened = try await other.get(secondTarget)
            #expect(reopened.body.contains("already approved by Abe Approver"))
            #expect(!reopened.body.contains("id=\"deny\""))
        }
        let after = try #require(try await fixture.store.request(id: request.id))
        #expect(after.state == .approved && after.decision?.reviewer == "approver2@example.test")
    }

    /// LINK-10: a bad signature, a wrong purpose, an expired token, an unknown key and garbage all
    /// show the same page, and are counted in metrics by reason.
    @Test func everyTokenFailureLooksTheSame() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        let good = String(fixture.link(.approve, request: request, to: "approver1@example.test").dropFirst("/decide/".count))
        var characters = Array(good)
        characters[characters.count - 3] = characters[characters.count - 3] == "A" ? "B" : "A"
        let tampered = String(characters)
        let reply = fixture.signer.sign(TokenClaims(purpose: .reply, requestID: request.id, subject: "approver1@example.test", issuedAt: fixture.clock.now, expiresAt: request.expiresAt))
        let expired = String(fixture.link(.approve, request: request, to: "approver1@example.test", expiresAt: fixture.clock.now.addingTimeInterval(60)).dropFirst("/decide/".count))
        let otherRing = try KeyRing(text: KeyRing.generateKeyLine(), source: "other")
        let foreign = TokenSigner(keyRing: otherRing).sign(TokenClaims(purpose: .decide, requestID: request.id, subject: "approver1@example.test", action: "approve", issuedAt: fixture.clock.now, expiresAt: request.expiresAt))
        let before = try await fixture.snapshot()
        fixture.clock.advance(by: 120)
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            var bodies: Set<String> = []
            for token in [tampered, reply, expired, foreign, "v1.nope.garbage.x", "%3Cscript%3E"] {
                let target = try #require(try await browser.get("/decide/\(token)").location)
                let page = try await browser.get(target)
                #expect(page.status == .forbidden)
                bodies.insert(page.body)
            }
            #expect(bodies.count == 1)
            #expect(bodies.first?.contains("This link is not valid") == true)
            let metrics = try await browser.get("/metrics").body
            #expect(metrics.contains("approval_gateway_link_failures_total{reason=\"bad_signature\"} 1"))
            #expect(metrics.contains("approval_gateway_link_failures_total{reason=\"wrong_purpose\"} 1"))
            #expect(metrics.contains("approval_gateway_link_failures_total{reason=\"expired\"} 1"))
            // A foreign key and a made-up one.
            #expect(metrics.contains("approval_gateway_link_failures_total{reason=\"unknown_key\"} 2"))
            // A token that is not even token-shaped never reaches a cookie.
            #expect(metrics.contains("approval_gateway_link_failures_total{reason=\"missing\"} 1"))
        }
        #expect(try await fixture.snapshot() == before)
    }

    /// A resource that requires the emailed code: a wrong code changes nothing, the right one decides.
    @Test func linkCodeIsRequiredWhenTheResourceSaysSo() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request(resource: "vault")
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let target = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let page = try await browser.get(target)
            #expect(page.body.contains("name=\"code\""))
            var form = [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))), ("intent", "decide"), ("action", "approve")]
            let right = LinkCode.code(requestID: request.id, reviewer: "approver1@example.test", ring: fixture.keyRing)
            let wrong = String(right.map { $0 == "9" ? "0" : Character(String(($0.wholeNumberValue! + 1) % 10)) })
            let refused = try await browser.post(target, form + [("code", wrong)])
            #expect(refused.status == .badRequest)
            #expect(refused.body.contains("does not match"))
            #expect(try await fixture.store.request(id: request.id)?.state == .pending)
            #expect(try await browser.post(target, form).status == .badRequest)
            form.append(("code", String(right.prefix(4)) + " " + String(right.suffix(4))))
            #expect(try await browser.post(target, form).status == .ok)
        }
        #expect(try await fixture.store.request(id: request.id)?.state == .approved)
    }

    /// The confirmation code's lockout: five wrong codes in 15 minutes lock it, even for the right
    /// code; once the window has passed, the right code decides.
    @Test func linkCodeLocksAfterFiveWrongCodes() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request(resource: "vault")
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let target = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let page = try await browser.get(target)
            let form = [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))), ("intent", "decide"), ("action", "approve")]
            let right = LinkCode.code(requestID: request.id, reviewer: "approver1@example.test", ring: fixture.keyRing)
            for wrong in ["00000000", "11111111", "22222222", "33333333", "44444444"] where wrong != right {
                #expect(try await browser.post(target, form + [("code", wrong)]).status == .badRequest)
            }
            let locked = try await browser.post(target, form + [("code", right)])
            #expect(locked.status == .tooManyRequests && locked.body.contains("Too many wrong codes"))
            #expect(try await fixture.store.request(id: request.id)?.state == .pending)
            fixture.clock.advance(by: 15 * 60 + 1)
            #expect(try await browser.post(target, form + [("code", right)]).status == .ok)
        }
        #expect(try await fixture.store.request(id: request.id)?.state == .approved)
        let reasons = try await fixture.store.auditLog(requestID: request.id).filter { $0.action == .decide }.compactMap(\.reason)
        #expect(reasons.filter { $0 == "wrong_code" }.count == 5 && reasons.contains("code_locked"))
    }

    /// A resource with link decisions switched off: the page offers no decision, and a decision
    /// through the link channel (here from a form opened before the switch) is refused.
    @Test func linkDecisionsCanBeSwitchedOff() async throws {
        let fixture = try await WebFixture()
        let payroll = try await fixture.request(resource: "payroll")
        let request = try await fixture.request("requester2@example.test")
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver1@example.test")
            let approvePage = try await browser.get(try #require(try await browser.get(fixture.link(.approve, request: payroll, to: "approver1@example.test")).location))
            #expect(approvePage.body.contains("switched off"))
            #expect(!approvePage.body.contains("id=\"approve\""))

            let target = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let page = try await browser.get(target)
            #expect(page.body.contains("id=\"approve\""))
            var directory = WebFixture.directory
            directory.resources[0].linkDecisionsEnabled = false
            _ = try await fixture.gateway.syncDirectory(directory, now: fixture.clock.now)
            let refused = try await browser.post(target, [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))), ("intent", "decide"), ("action", "approve")])
            #expect(refused.status == .conflict)
            #expect(refused.body.contains("switched off"))
        }
        #expect(try await fixture.store.request(id: request.id)?.state == .pending)
        #expect(try await fixture.store.auditLog(requestID: request.id).last?.reason == "channel_disabled")
    }

    /// AUTHZ-1: the requester cannot decide their own request by link, whatever their role: the
    /// page offers nothing, and the link channel refuses.
    @Test func requesterCannotDecideOwnRequestByLink() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request("admin@example.test")
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "admin@example.test")
            let approvePage = try await browser.get(try #require(try await browser.get(fixture.link(.approve, request: request, to: "admin@example.test")).location))
            #expect(approvePage.body.contains("You requested this access yourself"))
            #expect(!approvePage.body.contains("id=\"approve\""))
        }
        let outcome = try await fixture.gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "admin@example.test", action: .approve, channel: .link), now: fixture.clock.now)
        #expect(outcome.refusalCode == .selfDecision)
        #expect(try await fixture.store.request(id: request.id)?.state == .pending)
        #expect(try await fixture.store.auditLog(requestID: request.id).last?.reason == "self_decision")
    }

    /// LINK-9: tokens never reach the logs, and token pages send no-referrer and no-store.
    @Test func tokensNeverReachTheLogs() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        let tokens = try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            var tokens: [String] = []
            for kind in WebFixture.LinkKind.allCases {
                let link = fixture.link(kind, request: kind == .login ? nil : request, to: "approver1@example.test")
                tokens.append(String(link.split(separator: "/").last!))
                let redirect = try await browser.get(link)
                #expect(redirect.headers[.referrerPolicy] == "no-referrer")
                let page = try await browser.get(try #require(redirect.location))
                #expect(page.headers[.referrerPolicy] == "no-referrer")
                #expect(page.headers[.cacheControl] == "no-store")
                let setCookie = redirect.headers[values: .setCookie].joined()
                #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Path=/link/"))
            }
            _ = try await browser.get("/decide/v1.bad.token.value")
            return tokens
        }
        let logs = fixture.logs.text
        #expect(logs.contains("/decide/[redacted]"))
        for token in tokens {
            #expect(!logs.contains(token))
            #expect(!logs.contains(String(token.suffix(43))))
        }
    }
}
