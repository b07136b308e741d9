import Foundation
import GatewayApp
import GatewayCore
import Hummingbird

/// `/login` and `/logout`: the sign-in page (the identity provider, emailed sign-in links, or
/// both), and ending a session.
struct SignInController: Sendable {
    let web: WebApp

    func addRoutes(to router: Router<WebContext>) {
        router.get("/login") { request, context in try await showLogin(request, context: context) }
        router.post("/login") { request, context in try await requestSignInLink(request, context: context) }
        router.post("/logout") { request, context in try await signOut(request, context) }
    }

    /// `GET /login?next=PATH`: "Sign in with <provider>" when one is configured, and the form asking
    /// for an email address unless emailed links are off.
    func showLogin(_ request: Request, context: WebContext) async throws -> Response {
        let csrf = CSRF(request, context)
        let next = FormData.query(request)["next"].flatMap(WebApp.safeReturnPath)
        if context.identity != nil { return web.redirect(next ?? "/requests") }
        return try await loginPage(csrf: csrf, next: next, problem: nil)
    }

    func loginPage(csrf: CSRF, next: String?, problem: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        var values: [String: Any] = ["csrf": csrf.token(for: "/login", secret: web.secret), "email_links": web.settings.emailLinks]
        if let provider = web.settings.identityProvider {
            values["oidc_name"] = provider.displayName
            values["oidc_start"] = OIDCController.startLink(next: next)
        }
        if let next { values["next"] = next }
        if let problem { values["problem"] = problem }
        values["link_minutes"] = Int(web.service.settings.signInLinkLifetime / 60)
        return try await web.page("login", values, title: "Sign in", viewer: nil, csrf: csrf, status: status)
    }

    /// `POST /login`: emails a sign-in link to a known, active address. The answer is the same
    /// whether or not the address is known, and requests are rate-limited per address and per client.
    func requestSignInLink(_ request: Request, context: WebContext) async throws -> Response {
        let csrf = CSRF(request, context)
        guard web.settings.emailLinks else {
            return try await web.message("Not found", "Emailed sign-in links are switched off here.", viewer: nil, csrf: csrf, status: .notFound, links: [("/login", "Sign in")])
        }
        let form = try await FormData.read(request)
        guard CSRF.verify(request, context, form: form, path: "/login", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
        let next = form["next"].flatMap(WebApp.safeReturnPath)
        guard let raw = form["email"], EmailAddress.isPlausible(EmailAddress.normalize(raw)) else {
            return try await loginPage(csrf: csrf, next: next, problem: "Enter your email address.", status: .badRequest)
        }
        let email = EmailAddress.normalize(raw)
        switch try await web.service.requestSignInLink(email: email, client: context.clientAddress) {
        case .tooManyAttempts:
            return try await web.message(
                "Too many attempts", "Too many sign-in links were asked for from here. Wait a few minutes and try again.",
                viewer: nil, csrf: csrf, status: .tooManyRequests
            )
        case .sent:
            var response = try await web.message(
                "Check your email",
                "If \(email) is an address of this gateway, a sign-in link is on its way. It works once, for \(Int(web.service.settings.signInLinkLifetime / 60)) minutes.",
                viewer: nil, csrf: csrf
            )
            // The link brings the person back to the page they were going to, in this browser.
            if let next {
                response.setCookie(Cookie(
                    name: Cookies.returnTo, value: next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "", maxAge: 3_600, path: "/",
                    secure: web.settings.secureCookies, httpOnly: true, sameSite: .lax
                ))
            }
            return response
        }
    }

    /// `POST /logout`: ends the session; when the identity provider can end its own session too,
    /// the page offers that.
    func signOut(_ request: Request, _ context: WebContext) async throws -> Response {
        let csrf = CSRF(request, context)
        let form = try await FormData.read(request)
        guard CSRF.verify(request, context, form: form, path: "/logout", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
        if let secret = request.cookies[Cookies.session]?.value {
            try await web.service.signOut(sessionSecret: secret)
        }
        var response: Response
        if let provider = web.settings.identityProvider,
           let endSession = await provider.endSessionURL(postLogoutRedirectURI: web.settings.publicURL + "/login") {
            response = try await web.message(
                "Signed out", "You are signed out of the approval gateway. You may still be signed in at \(provider.displayName).",
                viewer: nil, csrf: csrf, links: [(endSession, "Sign out of \(provider.displayName) too"), ("/login", "Sign in again")]
            )
        } else {
            response = web.redirect("/login")
        }
        response.setCookie(Cookie(name: Cookies.session, value: "", maxAge: 0, path: "/", secure: web.settings.secureCookies, httpOnly: true, sameSite: .lax))
        return response
    }
}
