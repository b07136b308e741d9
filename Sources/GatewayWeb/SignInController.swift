import Foundation
import GatewayApp
import GatewayCore
import Hummingbird

/// `/login` and `/logout`: asking for an emailed sign-in link, and ending a session.
struct SignInController: Sendable {
    let web: WebApp

    func addRoutes(to router: Router<WebContext>) {
        router.get("/login") { request, context in try await showLogin(request, context: context) }
        router.post("/login") { request, context in try await requestSignInLink(request, context: context) }
        router.post("/logout") { request, context in try await signOut(request, context) }
    }

    /// `GET /login`: the form asking for an email address.
    func showLogin(_ request: Request, context: WebContext) async throws -> Response {
        let csrf = CSRF(request, context)
        if context.identity != nil { return web.redirect("/requests") }
        return try await web.page("login", ["csrf": csrf.token(for: "/login", secret: web.secret)], title: "Sign in", viewer: nil, csrf: csrf)
    }

    /// `POST /login`: emails a sign-in link to a known, active address. The answer is the same
    /// whether or not the address is known, and requests are rate-limited per address and per client.
    func requestSignInLink(_ request: Request, context: WebContext) async throws -> Response {
        let csrf = CSRF(request, context)
        let form = try await FormData.read(request)
        guard CSRF.verify(request, context, form: form, path: "/login", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
        guard let raw = form["email"], EmailAddress.isPlausible(EmailAddress.normalize(raw)) else {
            return try await web.page(
                "login", ["csrf": csrf.token(for: "/login", secret: web.secret), "problem": "Enter your email address."],
                title: "Sign in", viewer: nil, csrf: csrf, status: .badRequest
            )
        }
        let email = EmailAddress.normalize(raw)
        switch try await web.service.requestSignInLink(email: email, client: context.clientAddress) {
        case .tooManyAttempts:
            return try await web.message(
                "Too many attempts", "Too many sign-in links were asked for from here. Wait a few minutes and try again.",
                viewer: nil, csrf: csrf, status: .tooManyRequests
            )
        case .sent:
            return try await web.message(
                "Check your email",
                "If \(email) is an address of this gateway, a sign-in link is on its way. It works once, for \(Int(web.service.settings.signInLinkLifetime / 60)) minutes.",
                viewer: nil, csrf: csrf
            )
        }
    }

    /// `POST /logout`: ends the session.
    func signOut(_ request: Request, _ context: WebContext) async throws -> Response {
        let csrf = CSRF(request, context)
        let form = try await FormData.read(request)
        guard CSRF.verify(request, context, form: form, path: "/logout", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
        if let secret = request.cookies[Cookies.session]?.value {
            try await web.service.signOut(sessionSecret: secret)
        }
        var response = web.redirect("/login")
        response.setCookie(Cookie(name: Cookies.session, value: "", maxAge: 0, path: "/", secure: web.settings.secureCookies, httpOnly: true, sameSite: .lax))
        return response
    }
}
