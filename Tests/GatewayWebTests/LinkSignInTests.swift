import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

/// LINK-2: a link decides only within a signed-in session of the link's reviewer. A forwarded
/// notification, a shared mailbox or a ticket copy shows the request and decides nothing.
@Suite struct LinkSignInTests {
    func decideForm(_ page: WebClient.Page, target: String, action: String = "approve") throws -> [(String, String)] {
        [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))), ("intent", "decide"), ("action", action)]
    }

    /// LINK-2: whoever holds only the link (no session), with the page's own CSRF cookie, cannot
    /// decide; the refusal is audited.
    @Test func forwardedLinkAloneDecidesNothing() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let forwardee = WebClient(client)
            let target = try #require(try await forwardee.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let page = try await forwardee.get(target)
            #expect(page.status == .ok && page.body.contains("incident 42"))
            #expect(page.body.contains("Sign in to confirm") && !page.body.contains("id=\"approve\""))
            let refused = try await forwardee.post(target, try decideForm(page, target: target))
            #expect(refused.status == .forbidden)
            #expect(refused.body.contains("Nothing was changed"))
            #expect(forwardee.cookies["ag_session"] == nil)
        }
        #expect(try await fixture.store.request(id: request.id)?.state == .pending)
        #expect(try await fixture.store.auditLog(requestID: request.id).last?.reason == "sign_in_required")
    }

    /// LINK-2: signed in as someone else, the page says so and offers no decision; the link channel
    /// refuses a decision made in another reviewer's session.
    @Test func signedInAsSomeoneElseDecidesNothing() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            try await browser.signIn(fixture, as: "approver2@example.test")
            let target = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let page = try await browser.get(target)
            #expect(page.body.contains("You are signed in as approver2@example.test, but this link is approver1@example.test"))
            #expect(!page.body.contains("id=\"approve\"") && page.field("csrf", inFormPosting: target) == nil)
        }
        let claims = TokenClaims(purpose: .decide, requestID: request.id, subject: "approver1@example.test", action: "approve", issuedAt: fixture.clock.now, expiresAt: request.expiresAt)
        let outcome = try await fixture.service.decide(DecisionCommand(
            requestID: request.id, action: .approve,
            proof: .link(LinkProof(claims: claims, keyID: fixture.keyRing.signingKey.id, signedInAs: "approver2@example.test", code: nil))
        ))
        #expect(outcome.refusalCode == .wrongSession)
        #expect(try await fixture.store.request(id: request.id)?.state == .pending)
        #expect(try await fixture.store.auditLog(requestID: request.id).last?.reason == "wrong_session")
    }

    /// LINK-2: "Sign in to confirm" emails a sign-in link to the reviewer's address on file; after
    /// signing in the reviewer lands back on the same confirmation page, action preselected, and
    /// decides in one more click.
    @Test func signInToConfirmComesBackToTheLink() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            let target = try #require(try await browser.get(fixture.link(.deny, request: request, to: "approver1@example.test")).location)
            let page = try await browser.get(target)
            let asked = try await browser.post(target, [
                ("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))),
                ("intent", "confirm"), ("action", "deny"), ("email", "attacker@evil.test"),
            ])
            #expect(asked.status == .ok && asked.body.contains("Check your email"))
            let mail = try await fixture.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .signIn }
            #expect(mail.map(\.recipient) == ["approver1@example.test"])
            let loginPath = try await fixture.signInPath(try #require(mail.first))

            // The reviewer opens the emailed sign-in link in the same browser.
            let loginTarget = try #require(try await browser.get(loginPath).location)
            let loginPage = try await browser.get(loginTarget)
            let signedIn = try await browser.post(loginTarget, [
                ("csrf", try #require(loginPage.field("csrf", inFormPosting: loginTarget))), ("token", try #require(loginPage.field("token"))), ("intent", "signin"),
            ])
            #expect(signedIn.location == target + "?action=deny")
            let back = try await browser.get(try #require(signedIn.location))
            #expect(back.body.contains("class=\"deny primary\""))
            let decided = try await browser.post(target, try decideForm(back, target: target, action: "deny"))
            #expect(decided.status == .ok && decided.body.contains("You denied request #\(request.id)"))
        }
        let after = try #require(try await fixture.store.request(id: request.id))
        #expect(after.state == .denied && after.decision?.channel == .link && after.decision?.reviewer == "approver1@example.test")
    }

    /// LINK-7, LINK-8: a review token that has decided cannot be used to sign in.
    @Test func decidedReviewTokenCannotSignIn() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let link = fixture.link(.review, request: request, to: "approver1@example.test")
            // Someone else holds a copy of the link and has its page open.
            let thief = WebClient(client)
            let stolenTarget = try #require(try await thief.get(link).location)
            let stolenPage = try await thief.get(stolenTarget)

            let reviewer = WebClient(client)
            try await reviewer.signIn(fixture, as: "approver1@example.test")
            let target = try #require(try await reviewer.get(link).location)
            let page = try await reviewer.get(target)
            #expect(try await reviewer.post(target, try decideForm(page, target: target)).status == .ok)

            let signIn = try await thief.post(stolenTarget, [
                ("csrf", try #require(stolenPage.field("csrf", inFormPosting: stolenTarget))),
                ("token", String(link.dropFirst("/review/".count))), ("intent", "signin"),
            ])
            #expect(signIn.status == .forbidden)
            #expect(thief.cookies["ag_session"] == nil)
        }
        #expect(try await fixture.store.auditLog(requestID: nil).filter { $0.action == .signIn && $0.outcome == .accepted }.count == 1)
    }

    /// An admin relaxed the rule for a low-risk resource (`link_sign_in: false`): the link and its
    /// CSRF form decide without a session, and the audit record says so.
    @Test func relaxedResourceDecidesWithoutSession() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request(resource: "wiki")
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            let target = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver3@example.test")).location)
            let page = try await browser.get(target)
            #expect(page.body.contains("Sign-in is not required for this resource"))
            #expect(try await browser.post(target, try decideForm(page, target: target)).status == .ok)
            #expect(browser.cookies["ag_session"] == nil)
        }
        let audit = try #require(try await fixture.store.auditLog(requestID: request.id).last { $0.action == .decide })
        #expect(audit.outcome == .accepted && audit.detail["sign_in"] == "not required (link_sign_in: false)")
    }
}

/// The CSRF token is rotated when a session starts and bound to it.
@Suite struct CSRFSessionTests {
    @Test("A form rendered before sign-in no longer posts after it; the CSRF cookie is rotated at sign-in")
    func csrfIsRotatedAndBoundToTheSession() async throws {
        let fixture = try await WebFixture()
        let request = try await fixture.request()
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            let target = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let before = try await browser.get(target)
            let oldForm = [
                ("csrf", try #require(before.field("csrf", inFormPosting: target))), ("token", try #require(before.field("token"))),
                ("intent", "decide"), ("action", "approve"),
            ]
            let oldCookie = try #require(browser.cookies["ag_csrf"]?.value)
            try await browser.signIn(fixture, as: "approver1@example.test")
            #expect(browser.cookies["ag_csrf"]?.value != oldCookie)
            // The pre-sign-in form is refused as expired: nothing is decided with it.
            let stale = try await browser.post(target, oldForm)
            #expect(stale.status == .forbidden && stale.body.contains("This form has expired"))
            // The same form's token with the new cookie but no session is refused too.
            let page = try await browser.get(target)
            let fresh = [("csrf", try #require(page.field("csrf", inFormPosting: target))), ("token", try #require(page.field("token"))), ("intent", "decide"), ("action", "approve")]
            let session = try #require(browser.cookies["ag_session"]?.value)
            browser.forget("ag_session")
            #expect(try await browser.post(target, fresh).status == .forbidden)
            browser.setCookie("ag_session", session)
            #expect(try await browser.post(target, fresh).status == .ok)
        }
        #expect(try await fixture.store.request(id: request.id)?.state == .approved)
    }
}
