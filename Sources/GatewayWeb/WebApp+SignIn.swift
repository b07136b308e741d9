import ApprovalTokens
import Foundation
import GatewayCore
import Hummingbird

extension WebApp {
    /// `GET /login`: the form asking for an email address.
    func showLogin(_ request: Request) async throws -> Response {
        let csrf = CSRF(request)
        if try await viewer(request) != nil { return redirect("/requests") }
        return try await page("login", ["csrf": csrf.token(for: "/login", secret: secret)], title: "Sign in", viewer: nil, csrf: csrf)
    }

    /// `POST /login`: emails a sign-in link to a known, active address. The answer is the same
    /// whether or not the address is known, and requests are rate-limited per address and per client.
    func requestSignInLink(_ request: Request, context: WebContext) async throws -> Response {
        let csrf = CSRF(request)
        let form = try await FormData.read(request)
        guard CSRF.verify(request, form: form, path: "/login", secret: secret) else { return try await formExpired(csrf: csrf) }
        guard let raw = form["email"], EmailAddress.isPlausible(EmailAddress.normalize(raw)) else {
            return try await page(
                "login", ["csrf": csrf.token(for: "/login", secret: secret), "problem": "Enter your email address."],
                title: "Sign in", viewer: nil, csrf: csrf, status: .badRequest
            )
        }
        let email = EmailAddress.normalize(raw)
        let perClient = try await store.allowAttempt(bucket: "login-client:\(context.clientAddress)", limit: settings.signInLimitPerClient, window: settings.signInWindow, now: now)
        let perAddress = try await store.allowAttempt(bucket: "login-address:\(WebCrypto.sha256Hex(email))", limit: settings.signInLimitPerAddress, window: settings.signInWindow, now: now)
        if !perClient {
            return try await message(
                "Too many attempts", "Too many sign-in links were asked for from here. Wait a few minutes and try again.",
                viewer: nil, csrf: csrf, status: .tooManyRequests
            )
        }
        if perAddress, let user = try await store.user(email: email), user.isActive {
            let expires = now.addingTimeInterval(settings.signInLinkLifetime)
            let token = signer.sign(TokenClaims(purpose: .login, requestID: nil, subject: user.email, issuedAt: now, expiresAt: expires))
            try await store.enqueueNotification(
                .signIn, requestID: nil, recipient: NotificationRecipient(email: user.email, reason: "sign_in"),
                context: ["login_url": "\(settings.publicURL)/login/\(token)", "link_expires": WebFormat.date(expires)], now: now
            )
            try await store.appendAudit(
                action: "sign_in_link", actor: user.email, requestID: nil, channel: .web, outcome: "accepted", reason: nil,
                detail: ["client_ip": context.clientAddress], now: now
            )
        }
        return try await message(
            "Check your email",
            "If \(email) is an address of this gateway, a sign-in link is on its way. It works once, for \(Int(settings.signInLinkLifetime / 60)) minutes.",
            viewer: nil, csrf: csrf
        )
    }

    /// `POST /logout`: ends the session.
    func signOut(_ request: Request) async throws -> Response {
        let csrf = CSRF(request)
        let form = try await FormData.read(request)
        guard CSRF.verify(request, form: form, path: "/logout", secret: secret) else { return try await formExpired(csrf: csrf) }
        if let id = request.cookies[Cookies.session]?.value {
            try await store.endSession(idDigest: WebCrypto.sha256Hex(id), now: now)
        }
        var response = redirect("/login")
        response.setCookie(Cookie(name: Cookies.session, value: "", maxAge: 0, path: "/", secure: settings.secureCookies, httpOnly: true, sameSite: .lax))
        return response
    }
}
