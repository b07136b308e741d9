import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import Hummingbird
import Logging

/// What every controller shares: the approval service, the token signer (links are verified here,
/// at the edge), the pages, the settings, and the ways to answer.
struct WebApp: Sendable {
    let service: ApprovalService
    let signer: TokenSigner
    let pages: WebPages
    let settings: WebSettings
    let clock: any GatewayClock
    /// The installation's web secret, keyed: the key of CSRF form tokens.
    let secret: WebKey
    let counters: WebCounters
    let logger: Logger

    var now: Date { clock.now }

    // MARK: Responses

    /// An HTML page: every page is dynamic and personal, so none is cached.
    func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }

    /// A `303 See Other` to a path of this server.
    func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// Renders `template` inside the layout, for `viewer` (or a visitor), setting the CSRF cookie
    /// when the page created it. `bell` is the viewer's open-request count when the page read it
    /// already (``RequestListing``); otherwise it is read here.
    func page(
        _ template: String, _ context: [String: Any], title: String, viewer: Viewer?, csrf: CSRF,
        status: HTTPResponse.Status = .ok, bell: Int? = nil
    ) async throws -> Response {
        var context = context
        context["title"] = title
        if let viewer {
            // A section on a value pushes it onto the template's lookup stack, in front of every
            // name inside it: the layout's section is this flag, and the address a value.
            context["signed_in"] = true
            context["viewer_name"] = viewer.user.name
            context["viewer_email"] = viewer.user.email
            context["nav_requests"] = viewer.mayReviewSomething
            context["nav_admin"] = viewer.isAdminRole
            context["logout_csrf"] = csrf.token(for: "/logout", secret: secret)
            let open = if let bell { bell } else { viewer.mayReviewSomething ? try await service.openRequestCount(for: viewer) : 0 }
            context["bell_count"] = open
            context["bell_dot"] = open > 0
        }
        var response = html(try pages.render(template, context), status: status)
        csrf.apply(to: &response, secure: settings.secureCookies)
        return response
    }

    /// A page with a title and one message, for results and refusals.
    func message(
        _ title: String, _ text: String, viewer: Viewer?, csrf: CSRF, status: HTTPResponse.Status = .ok, links: [(String, String)] = []
    ) async throws -> Response {
        try await page(
            "message",
            ["heading": title, "text": text, "links": links.map { ["href": $0.0, "label": $0.1] }],
            title: title, viewer: viewer, csrf: csrf, status: status
        )
    }

    // MARK: Sessions

    /// The response that sets a new session's cookie, rotates the CSRF cookie (forms of the page
    /// before sign-in stop working), and sends the browser on to `location`.
    func startSession(_ session: NewSession, redirectTo location: String) -> Response {
        var response = redirect(location)
        response.setCookie(Cookie(
            name: Cookies.session, value: session.secret, maxAge: Int(session.expiresAt.timeIntervalSince(now)), path: "/",
            secure: settings.secureCookies, httpOnly: true, sameSite: .lax
        ))
        CSRF.setCookie(Secrets.randomToken(), on: &response, secure: settings.secureCookies)
        return response
    }
}

/// Cookie names.
enum Cookies {
    static let session = "ag_session"
    static let csrf = "ag_csrf"
    static let link = "ag_link"
    /// Where to go back to after signing in ("Sign in to confirm"): a path of this server.
    static let returnTo = "ag_return"
    /// A sign-in attempt at the identity provider, from the redirect to the callback.
    static let providerAttempt = "ag_oidc"
}

/// The double-submit CSRF defence: a random cookie, and in each form an HMAC of that cookie, the
/// browser's session (none before sign-in) and the form's target path under the installation's web
/// secret. A form is therefore bound to the cookie set by the page that rendered it, to the session
/// it was rendered in (a new session rotates the cookie and invalidates older forms), and to the one
/// path it posts to.
struct CSRF: Sendable {
    let cookieValue: String
    let isNew: Bool
    /// The digest of the session the page is rendered in, or empty for a visitor.
    let sessionBinding: String

    init(_ request: Request, _ context: WebContext) {
        sessionBinding = context.identity?.sessionDigest ?? ""
        if let value = request.cookies[Cookies.csrf]?.value, Self.isWellFormed(value) {
            cookieValue = value
            isNew = false
        } else {
            cookieValue = Secrets.randomToken()
            isNew = true
        }
    }

    static func isWellFormed(_ value: String) -> Bool {
        value.utf8.count == 43 && value.utf8.allSatisfy {
            $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0)
        }
    }

    static func message(cookie: String, session: String, path: String) -> String { "csrf|\(cookie)|\(session)|\(path)" }

    /// The form field value for a form posting to `path`.
    func token(for path: String, secret: WebKey) -> String {
        WebCrypto.tag(Self.message(cookie: cookieValue, session: sessionBinding, path: path), secret: secret)
    }

    func apply(to response: inout Response, secure: Bool) {
        guard isNew else { return }
        Self.setCookie(cookieValue, on: &response, secure: secure)
    }

    static func setCookie(_ value: String, on response: inout Response, secure: Bool) {
        response.setCookie(Cookie(name: Cookies.csrf, value: value, path: "/", secure: secure, httpOnly: true, sameSite: .lax))
    }

    /// Whether `request` posting `form` to `path` carries the cookie and the matching form token for
    /// its session, and, when the browser named an origin, comes from this server.
    static func verify(_ request: Request, _ context: WebContext, form: FormData, path: String, secret: WebKey) -> Bool {
        // Browsers send `Origin: null` from pages with `Referrer-Policy: no-referrer` (every page
        // here): only a real, different origin is refused; the form token is checked in every case.
        if let origin = request.headers[.origin], origin != "null" {
            guard let authority = request.head.authority, let url = URL(string: origin), let originHost = url.host else { return false }
            let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
            guard originAuthority.lowercased() == authority.lowercased() else { return false }
        }
        guard let cookie = request.cookies[Cookies.csrf]?.value, isWellFormed(cookie), let field = form["csrf"] else { return false }
        let session = context.identity?.sessionDigest ?? ""
        return WebCrypto.isValidTag(field, for: message(cookie: cookie, session: session, path: path), secret: secret)
    }
}
