import Foundation
import GatewayApp
import GatewayCore
import Hummingbird

/// `/auth/oidc/start` and `/auth/oidc/callback`: signing in through the organisation's OpenID
/// Connect provider (authorization code flow with PKCE, `state` and `nonce`).
///
/// The attempt's secrets travel in a cookie tagged with the installation's web secret, bound to the
/// browser that started it; the callback's `state` must match it and is claimed once in the
/// database (a replayed callback is refused on every gateway). The provider's answer is verified by
/// the ``IdentityProvider``; who that identity may be is the approval service's decision.
struct OIDCController: Sendable {
    let web: WebApp
    let provider: any IdentityProvider

    static let startPath = "/auth/oidc/start"
    static let callbackPath = "/auth/oidc/callback"

    func addRoutes(to router: Router<WebContext>) {
        router.get(RouterPath(stringLiteral: Self.startPath)) { request, context in try await start(request, context: context) }
        router.get(RouterPath(stringLiteral: Self.callbackPath)) { request, context in try await callback(request, context: context) }
    }

    var redirectURI: String { web.settings.publicURL + Self.callbackPath }

    /// The start link for a person going to `next` (a path of this gateway).
    static func startLink(next: String?) -> String {
        guard let next = next.flatMap(WebApp.safeReturnPath) else { return startPath }
        return startPath + "?next=" + WebApp.formEncode(next)
    }

    /// `GET /auth/oidc/start?next=PATH`: sends the browser to the provider.
    func start(_ request: Request, context: WebContext) async throws -> Response {
        let csrf = CSRF(request, context)
        let next = FormData.query(request)["next"].flatMap(WebApp.safeReturnPath) ?? "/requests"
        let attempt = ProviderSignInAttempt.start(returnTo: next, now: web.now)
        let location: String
        do {
            location = try await provider.authorizationURL(for: attempt, redirectURI: redirectURI)
        } catch {
            web.logger.error("sign-in through \(provider.displayName) cannot start: \(error)")
            return try await web.message(
                "Sign-in is unavailable", "\(provider.displayName) cannot be reached just now. Try again in a minute\(web.settings.emailLinks ? ", or ask for an emailed sign-in link" : "").",
                viewer: nil, csrf: csrf, status: .badGateway, links: [("/login", "Back to sign-in")]
            )
        }
        var response = Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
        response.setCookie(attemptCookie(AttemptCookie.seal(attempt, secret: web.secret), maxAge: Int(ProviderSignInAttempt.lifetime)))
        return response
    }

    /// The attempt's cookie. Over https it is a `__Host-` cookie (Secure, Path=/, no Domain), so that
    /// a sibling subdomain cannot plant its own attempt in the browser (login CSRF); over plain http
    /// (a loopback trial) it is scoped to `/auth/oidc`.
    var attemptCookieName: String { web.settings.secureCookies ? "__Host-" + Cookies.providerAttempt : Cookies.providerAttempt }

    func attemptCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: attemptCookieName, value: value, maxAge: maxAge, path: web.settings.secureCookies ? "/" : "/auth/oidc",
            secure: web.settings.secureCookies, httpOnly: true, sameSite: .lax
        )
    }

    /// `GET /auth/oidc/callback?code=…&state=…`: the provider sends the browser back here.
    func callback(_ request: Request, context: WebContext) async throws -> Response {
        let csrf = CSRF(request, context)
        let query = FormData.query(request)
        let evidence = ["client_ip": context.clientAddress]
        func refuse(_ title: String, _ text: String, status: HTTPResponse.Status) async throws -> Response {
            var response = try await web.message(title, text, viewer: nil, csrf: csrf, status: status, links: [("/login", "Sign in again")])
            response.headers[.referrerPolicy] = "no-referrer"
            response.setCookie(attemptCookie("", maxAge: 0))
            return response
        }
        guard let attempt = request.cookies[attemptCookieName].flatMap({ AttemptCookie.open($0.value, secret: web.secret) }),
              web.now.timeIntervalSince(attempt.startedAt) < ProviderSignInAttempt.lifetime else {
            web.counters.increment("\(WebCounters.signInFailure).oidc_no_attempt")
            return try await refuse("Sign-in not started here", "This answer from \(provider.displayName) does not belong to a sign-in started in this browser in the last 10 minutes. Start again from the sign-in page.", status: .badRequest)
        }
        // The answer must belong to this browser's attempt before anything in it is acted on.
        guard let state = query["state"], WebCrypto.constantTimeEquals(state, attempt.state) else {
            web.counters.increment("\(WebCounters.signInFailure).oidc_state")
            return try await refuse("Sign-in not started here", "This answer from \(provider.displayName) does not match the sign-in started in this browser. Start again from the sign-in page.", status: .badRequest)
        }
        if let error = query["error"] {
            // An OAuth error code is a short token (`access_denied`); anything else is not repeated.
            let code = String(error.prefix(64).filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
            web.logger.notice("\(provider.displayName) did not sign a person in: \(code)")
            return try await refuse("Not signed in", "\(provider.displayName) did not sign you in (\(code)).", status: .forbidden)
        }
        guard let code = query["code"], !code.isEmpty else {
            return try await refuse("Not signed in", "\(provider.displayName) sent no authorization code. Start again from the sign-in page.", status: .badRequest)
        }
        guard try await web.service.claimProviderState(state, attemptStarted: attempt.startedAt, evidence: evidence) else {
            web.counters.increment("\(WebCounters.signInFailure).oidc_replayed")
            return try await refuse("Sign-in already used", "This sign-in was already completed. Start again from the sign-in page.", status: .badRequest)
        }
        let identity: ProviderIdentity
        do {
            identity = try await provider.identity(code: code, attempt: attempt, redirectURI: redirectURI)
        } catch let error as IdentityProviderError {
            web.logger.warning("sign-in through \(provider.displayName) refused: \(error.message)")
            web.counters.increment("\(WebCounters.signInFailure).oidc_\(error.kind.rawValue)")
            switch error.kind {
            case .unreachable, .misconfigured:
                return try await refuse("Sign-in is unavailable", "\(provider.displayName) cannot be used just now. Try again in a minute.", status: .badGateway)
            case .codeRefused, .invalidToken:
                return try await refuse("Not signed in", "The answer from \(provider.displayName) could not be verified, so nobody was signed in.", status: .forbidden)
            }
        }
        switch try await web.service.signIn(with: identity, evidence: evidence) {
        case .signedIn(let session):
            // A session this browser held before ends: one browser, one session.
            if let previous = request.cookies[Cookies.session]?.value { try await web.service.signOut(sessionSecret: previous) }
            var response = web.startSession(session, redirectTo: WebApp.safeReturnPath(attempt.returnTo) ?? "/requests")
            response.setCookie(attemptCookie("", maxAge: 0))
            return response
        case .emailNotVerified(let email):
            web.counters.increment("\(WebCounters.signInFailure).oidc_unverified_email")
            return try await refuse(
                "Email address not verified",
                "\(provider.displayName) does not vouch for \(email.map { "the address \($0)" } ?? "an email address") of your account, so it cannot be matched to a person of this gateway. Ask your identity provider's administrator.",
                status: .forbidden
            )
        case .notAUser(let email):
            web.counters.increment("\(WebCounters.signInFailure).oidc_not_a_user")
            return try await refuse(
                "Not a user of this gateway",
                "\(email) is not an active user of this approval gateway. Ask an administrator to add you to its directory.",
                status: .forbidden
            )
        }
    }
}

/// The sign-in attempt's cookie: the attempt as JSON, base64url, and an HMAC tag of it under the
/// installation's web secret, so that a browser can carry it but not forge or alter it.
enum AttemptCookie {
    static func seal(_ attempt: ProviderSignInAttempt, secret: WebKey) -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let payload = WebCrypto.base64URL((try? encoder.encode(attempt)) ?? Data())
        return payload + "." + WebCrypto.tag("oidc-attempt:" + payload, secret: secret)
    }

    static func open(_ value: String, secret: WebKey) -> ProviderSignInAttempt? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, value.utf8.count < 2_000,
              WebCrypto.isValidTag(String(parts[1]), for: "oidc-attempt:" + parts[0], secret: secret),
              let bytes = WebCrypto.fromBase64URL(String(parts[0])) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try? decoder.decode(ProviderSignInAttempt.self, from: Data(bytes))
    }
}
