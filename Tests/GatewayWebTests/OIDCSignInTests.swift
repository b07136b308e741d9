import Foundation
import GatewayApp
import GatewayCore
import GatewayOIDC
import GatewayTestSupport
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Testing

/// Sign-in through a real OpenID Connect provider on loopback (oidc-provider-mock): the web
/// layer, the gateway's ``OpenIDProvider`` and the provider's own authorization and token
/// endpoints, keys and login form.
@Suite(.serialized) struct OIDCSignInTests {
    static let people: [[String: any Sendable]] = [
        ["sub": "ann", "email": "approver1@example.test", "email_verified": true, "name": "Ann Approver"],
        ["sub": "amy", "email": "Approver3@Example.test", "email_verified": true, "groups": ["web-approvers", "db-approvers", "not-synced"]],
        ["sub": "stranger", "email": "stranger@example.test", "email_verified": true],
        ["sub": "unverified", "email": "approver2@example.test", "email_verified": false],
    ]

    /// A web fixture whose sign-in page offers the lab's provider.
    func withProvider(
        emailLinks: Bool = true, syncedGroups: Set<String> = [],
        _ body: @escaping @Sendable (WebFixture, OIDCLab, WebClient) async throws -> Void
    ) async throws {
        let lab = try await OIDCLab.start(users: Self.people)
        defer { lab.stop() }
        var configuration = OpenIDProvider.Configuration(
            issuer: lab.issuer, clientID: "approval-gateway", clientSecret: "lab-client-secret", scopes: ["openid", "email", "profile"],
            displayName: "Lab IdP", groupsClaim: syncedGroups.isEmpty ? nil : "groups"
        )
        configuration.keyRefreshInterval = 0
        let provider = try OpenIDProvider(configuration: configuration)
        let fixture = try await WebFixture(settings: { settings in
            settings.identityProvider = provider
            settings.emailLinks = emailLinks
        }, service: { $0.providerSyncedGroups = syncedGroups })
        try await fixture.application().test(.router) { client in
            try await body(fixture, lab, WebClient(client))
        }
        await provider.shutdown()
    }

    /// Follows "Sign in with …" from `start` through the provider's form as `sub`, and returns the
    /// gateway's answer to the provider's callback (and the callback's path).
    func signIn(_ browser: WebClient, lab: OIDCLab, start: String, as sub: String) async throws -> (WebClient.Page, String) {
        let redirect = try await browser.get(start)
        #expect(redirect.status == .seeOther)
        let authorize = try #require(redirect.location)
        #expect(authorize.hasPrefix(lab.issuer + "/oauth2/authorize?"))
        for parameter in ["code_challenge_method=S256", "code_challenge=", "nonce=", "state=", "response_type=code", "client_id=approval-gateway"] {
            #expect(authorize.contains(parameter), "the authorization request lacks \(parameter)")
        }
        let callback = try await lab.signIn(at: authorize, as: sub)
        #expect(callback.hasPrefix(WebFixture.publicURL + "/auth/oidc/callback?"))
        let path = String(callback.dropFirst(WebFixture.publicURL.count))
        return (try await browser.get(path), path)
    }

    @Test("OIDC-1, OIDC-5: a signed-out visit to a request page goes through the provider and lands back on that page")
    func landsWhereGoing() async throws {
        try await withProvider { fixture, lab, browser in
            let request = try await fixture.request()
            let visit = try await browser.get("/requests/\(request.id)")
            #expect(visit.status == .seeOther && visit.location == "/login?next=%2Frequests%2F\(request.id)")
            let login = try await browser.get(try #require(visit.location))
            #expect(login.body.contains("Sign in with Lab IdP") && login.body.contains("Email me a sign-in link"))
            let start = try #require(Self.href(of: "sign-in-with-provider", in: login.body))
            let (landed, _) = try await signIn(browser, lab: lab, start: start, as: "ann")
            #expect(landed.status == .seeOther && landed.location == "/requests/\(request.id)")
            #expect(browser.cookies["ag_session"] != nil && browser.cookies["ag_oidc"] == nil)
            let page = try await browser.get("/requests/\(request.id)")
            #expect(page.status == .ok && page.body.contains("Ann Approver"))
            let audit = try await fixture.store.auditLog(requestID: nil).filter { $0.action == .signIn }
            #expect(audit.last?.outcome == .accepted && audit.last?.actor == "approver1@example.test" && audit.last?.detail["method"] == "oidc")
            // An address outside the gateway is never a landing place.
            let offsite = try await browser.get("/auth/oidc/start?next=https%3A%2F%2Fevil.test%2F")
            #expect(offsite.status == .seeOther)
            browser.forget("ag_session")
            let (back, _) = try await signIn(browser, lab: lab, start: "/auth/oidc/start?next=%2F%2Fevil.test", as: "ann")
            #expect(back.location == "/requests")
        }
    }

    @Test("OIDC-1: a replayed callback, a callback from another browser and a forged attempt cookie are refused")
    func replayAndBinding() async throws {
        try await withProvider { fixture, lab, browser in
            let saved = { browser.cookies["ag_oidc"]?.value }
            let redirect = try await browser.get("/auth/oidc/start")
            let attemptCookie = try #require(saved())
            let callback = try await lab.signIn(at: try #require(redirect.location), as: "ann")
            let path = String(callback.dropFirst(WebFixture.publicURL.count))

            // Another browser (no attempt cookie) cannot use the callback.
            let other = WebClient(browser.client)
            let foreign = try await other.get(path)
            #expect(foreign.status == .badRequest && foreign.body.contains("not started here"))
            // A cookie the gateway did not tag is not an attempt.
            other.setCookie("ag_oidc", attemptCookie.replacingOccurrences(of: ".", with: "x."), path: "/auth/oidc")
            #expect(try await other.get(path).status == .badRequest)

            let first = try await browser.get(path)
            #expect(first.status == .seeOther && browser.cookies["ag_session"] != nil)
            // The same answer again, with the same attempt cookie: the state was used.
            browser.forget("ag_session")
            browser.setCookie("ag_oidc", attemptCookie, path: "/auth/oidc")
            let replayed = try await browser.get(path)
            #expect(replayed.status == .badRequest && replayed.body.contains("already completed"))
            #expect(browser.cookies["ag_session"] == nil)
            let refusals = try await fixture.store.auditLog(requestID: nil).filter { $0.action == .signIn && $0.outcome == .refused }
            #expect(refusals.contains { $0.reason == "state_replayed" })
        }
    }

    @Test("OIDC-3: an unverified address and a person who is not in the directory are refused with a clear page; nothing is created")
    func refusedPeople() async throws {
        try await withProvider { fixture, lab, browser in
            let usersBefore = try await fixture.store.users().count
            let (unverified, _) = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "unverified")
            #expect(unverified.status == .forbidden && unverified.body.contains("Email address not verified"))
            let (stranger, _) = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "stranger")
            #expect(stranger.status == .forbidden && stranger.body.contains("stranger@example.test is not an active user"))
            // A subject the provider knows nothing about: its form makes one with an unverified address.
            let (unknown, _) = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "admin@example.test")
            #expect(unknown.status == .forbidden)
            #expect(browser.cookies["ag_session"] == nil)
            #expect(try await fixture.store.users().count == usersBefore)
            let reasons = try await fixture.store.auditLog(requestID: nil).filter { $0.action == .signIn && $0.outcome == .refused }.compactMap(\.reason)
            #expect(reasons.filter { $0 == "email_not_verified" }.count == 2 && reasons.contains("not_a_user"))
        }
    }

    @Test("OIDC-6: after the provider rotates its signing key (a new kid), sign-in keeps working")
    func keyRotation() async throws {
        try await withProvider { _, lab, browser in
            let (first, _) = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "ann")
            #expect(first.status == .seeOther && first.location == "/requests")
            let before = try await lab.keyIDs()
            try await lab.restart()
            let after = try await lab.keyIDs()
            #expect(!after.isEmpty && Set(before).isDisjoint(with: after), "the provider kept its key")
            browser.forget("ag_session")
            let (second, _) = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "ann")
            #expect(second.status == .seeOther && second.location == "/requests", "\(second.status): \(second.body.prefix(600))")
            #expect(browser.cookies["ag_session"] != nil)
        }
    }

    @Test("OIDC-4: synced groups follow the provider's groups claim at sign-in, audited; other groups and roles are untouched")
    func groupSync() async throws {
        try await withProvider(syncedGroups: ["web-approvers", "db-approvers"]) { fixture, lab, browser in
            // amy (approver3) is in web-approvers; the provider says web-approvers and db-approvers.
            let (signedIn, _) = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "amy")
            #expect(signedIn.status == .seeOther)
            var groups = try await fixture.store.groups()
            #expect(groups.first { $0.name == "db-approvers" }?.members.contains("approver3@example.test") == true)
            #expect(groups.first { $0.name == "web-approvers" }?.members.contains("approver3@example.test") == true)
            #expect(!groups.contains { $0.name == "not-synced" })
            let changes = try await fixture.store.auditLog(requestID: nil).filter { $0.action == .groupMembers }
            #expect(changes.count == 1 && changes.first?.detail["group"] == "db-approvers" && changes.first?.detail["source"] == "oidc_groups")
            // The provider drops db-approvers: the next sign-in follows.
            try await lab.setUser("amy", claims: ["email": "approver3@example.test", "email_verified": true, "groups": ["web-approvers"]])
            browser.forget("ag_session")
            _ = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "amy")
            groups = try await fixture.store.groups()
            #expect(groups.first { $0.name == "db-approvers" }?.members.contains("approver3@example.test") == false)
            #expect(groups.first { $0.name == "db-approvers" }?.members.contains("approver1@example.test") == true)
            #expect(try await fixture.store.user(email: "approver3@example.test")?.role == .member)
        }
    }

    @Test("OIDC-5: a reviewer from an approve link signs in through the provider, comes back to the link's page and approves")
    func linkConfirmation() async throws {
        try await withProvider(emailLinks: false) { fixture, lab, browser in
            let request = try await fixture.request()
            let linkPath = try #require(try await browser.get(fixture.link(.approve, request: request, to: "approver1@example.test")).location)
            let linkPage = try await browser.get(linkPath)
            #expect(linkPage.body.contains("Sign in with Lab IdP") && !linkPage.body.contains("Email me a sign-in link"))
            let start = try #require(Self.href(of: "sign-in-with-provider", in: linkPage.body))
            let (landed, _) = try await signIn(browser, lab: lab, start: start, as: "ann")
            #expect(landed.location == linkPath + "?action=approve")
            let confirm = try await browser.get(try #require(landed.location))
            #expect(confirm.body.contains("id=\"approve\""))
            let decided = try await browser.post(linkPath, [
                ("csrf", try #require(confirm.field("csrf", inFormPosting: linkPath))), ("token", try #require(confirm.field("token"))), ("action", "approve"),
            ])
            #expect(decided.status == .ok || decided.status == .seeOther)
            #expect(try await fixture.store.request(id: request.id)?.state == .approved)
        }
    }

    @Test("auth.email_links false: the sign-in page offers only the provider, and asking for a link by email is refused")
    func emailLinksOff() async throws {
        try await withProvider(emailLinks: false) { fixture, _, browser in
            let login = try await browser.get("/login")
            #expect(login.body.contains("Sign in with Lab IdP") && !login.body.contains("name=\"email\""))
            let refused = try await browser.post("/login", [("csrf", "x"), ("email", "approver1@example.test")])
            #expect(refused.status == .notFound)
            #expect(try await fixture.store.outboxEntries(status: nil, limit: 10).isEmpty)
        }
    }

    @Test("Sign out ends the session here and offers to sign out at the provider")
    func signOut() async throws {
        try await withProvider { _, lab, browser in
            _ = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "ann")
            let page = try await browser.get("/requests")
            let csrf = try #require(page.field("csrf", inFormPosting: "/logout"))
            let out = try await browser.post("/logout", [("csrf", csrf)])
            #expect(out.status == .ok && out.body.contains("Sign out of Lab IdP too"))
            #expect(out.body.contains(lab.issuer + "/oauth2/end_session?client_id=approval-gateway&amp;post_logout_redirect_uri="))
            #expect(browser.cookies["ag_session"] == nil)
            #expect(try await browser.get("/requests").status == .seeOther)
        }
    }

    @Test("OIDC-5: return paths that a browser would resolve off-site (tab, backslash, scheme, host) are replaced by /requests")
    func returnPaths() {
        for bad in ["/\t/evil.example", "/\n/evil.example", "//evil.example", "/\\evil.example", "https://evil.example/", "/ /evil", "/\u{85}x"] {
            #expect(ReturnPath.validated(bad) == nil, "\(bad.debugDescription)")
        }
        for good in ["/requests/5", "/link/abc?action=approve", "/users/a%40b.test", "/requests?state=open&page=2"] {
            #expect(ReturnPath.validated(good) == good)
        }
    }

    @Test("OIDC-1: over https the attempt cookie is a __Host- cookie; an error answer without this browser's state changes nothing")
    func hostCookieAndErrorOrder() async throws {
        let lab = try await OIDCLab.start(users: Self.people)
        defer { lab.stop() }
        let provider = try OpenIDProvider(configuration: OpenIDProvider.Configuration(
            issuer: lab.issuer, clientID: "approval-gateway", clientSecret: nil, scopes: ["openid", "email"], displayName: "Lab IdP"
        ))
        let fixture = try await WebFixture(settings: { settings in
            settings.publicURL = "https://gateway.example.test"
            settings.identityProvider = provider
        })
        try await fixture.application().test(.router) { client in
            let browser = WebClient(client)
            let started = try await browser.get("/auth/oidc/start")
            let setCookie = started.headers[values: .setCookie].first { $0.hasPrefix("__Host-ag_oidc=") } ?? ""
            #expect(setCookie.contains("Path=/;") || setCookie.hasSuffix("Path=/") || setCookie.contains("Path=/ "), "\(setCookie)")
            #expect(setCookie.contains("Secure") && setCookie.contains("HttpOnly") && !setCookie.contains("Domain"))
            // A forged error answer (no state of this attempt) neither refuses nor ends the attempt.
            let forged = try await browser.get("/auth/oidc/callback?error=access_denied")
            #expect(forged.status == .badRequest && forged.body.contains("does not match"))
        }
        await provider.shutdown()
    }

    @Test("Signing in again ends the session the browser held before")
    func previousSessionEnds() async throws {
        try await withProvider { fixture, lab, browser in
            _ = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "ann")
            let first = try #require(browser.cookies["ag_session"]?.value)
            _ = try await signIn(browser, lab: lab, start: "/auth/oidc/start", as: "ann")
            #expect(browser.cookies["ag_session"]?.value != first)
            #expect(try await fixture.service.viewer(sessionSecret: first) == nil)
        }
    }

    static func href(of id: String, in body: String) -> String? {
        guard let tag = body.range(of: "id=\"\(id)\"") else { return nil }
        let before = body[..<tag.lowerBound]
        guard let open = before.range(of: "<a ", options: .backwards), let href = body[open.upperBound...].range(of: "href=\"") else { return nil }
        let rest = body[href.upperBound...]
        return rest.prefix { $0 != "\"" }.replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&#x2F;", with: "/").replacingOccurrences(of: "&#x3D;", with: "=")
    }
}
