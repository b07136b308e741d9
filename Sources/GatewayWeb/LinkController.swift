import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import Hummingbird

/// A link token that verified, with what the audit log may keep of it.
struct VerifiedLink: Sendable {
    let claims: TokenClaims
    /// The id of the key that signed it.
    let keyID: String
    /// The token itself: it goes back into the page's form only (never a URL or a log).
    let token: String
}

/// The emailed links: `GET` only moves the token out of the URL and shows a page (LINK-1, LINK-9);
/// a `POST` from that page decides within the reviewer's signed-in session (LINK-2), asks for a
/// sign-in link to confirm, or signs in with a sign-in link.
struct LinkController: Sendable {
    let web: WebApp

    /// The path prefixes of emailed links; the rest of such a path is a token and is never logged.
    static let tokenPrefixes = ["/review/", "/decide/", "/login/"]

    func addRoutes(to router: Router<WebContext>) {
        for prefix in ["review", "decide", "login"] {
            router.get("/\(prefix)/:token") { _, context in
                stashLinkToken(try context.parameters.require("token"))
            }
        }
        router.get("/link/:handle") { request, context in
            try await showLink(request, context: context, handle: try context.parameters.require("handle"))
        }
        router.post("/link/:handle") { request, context in
            try await postLink(request, context: context, handle: try context.parameters.require("handle"))
        }
    }

    /// `GET`/`HEAD` on an emailed link: moves the token out of the URL into a cookie scoped to a clean
    /// path and redirects there (LINK-9). Nothing is verified, stored or sent (LINK-1).
    func stashLinkToken(_ token: String) -> Response {
        let handle = Self.handle(of: token)
        var response = web.redirect("/link/\(handle)")
        response.headers[.referrerPolicy] = "no-referrer"
        if token.utf8.count <= 3_000, token.utf8.allSatisfy(Self.isTokenByte) {
            response.setCookie(Cookie(
                name: Cookies.link, value: token, maxAge: 3_600, path: "/link/\(handle)",
                secure: web.settings.secureCookies, httpOnly: true, sameSite: .lax
            ))
        }
        return response
    }

    /// The clean path's name for a token: 128 bits of its SHA-256, useless without the token.
    static func handle(of token: String) -> String { String(Secrets.sha256Hex(token).prefix(32)) }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            || (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }

    /// Verifies `token` for one of `purposes` and checks that it belongs to `handle`. Failures are
    /// counted by reason; callers show them all the same way (LINK-10).
    func verifyLink(_ token: String?, handle: String, purposes: [TokenPurpose]) -> VerifiedLink? {
        guard let token, WebCrypto.constantTimeEquals(Self.handle(of: token), handle) else {
            web.counters.increment("\(WebCounters.linkFailure).\(token == nil ? "missing" : "mismatch")")
            return nil
        }
        var reason = "wrong_purpose"
        for purpose in purposes {
            do {
                let claims = try web.signer.verify(token, purpose: purpose, now: web.now)
                let keyID = token.split(separator: ".", maxSplits: 2).dropFirst().first.map(String.init) ?? ""
                return VerifiedLink(claims: claims, keyID: keyID, token: token)
            } catch {
                if error.reason != .wrongPurpose { reason = error.reason.rawValue }
            }
        }
        web.counters.increment("\(WebCounters.linkFailure).\(reason)")
        return nil
    }

    /// The one page every link failure shows (LINK-10).
    func invalidLink(csrf: CSRF) async throws -> Response {
        try await tokenPage("link_invalid", [:], title: "Link not valid", viewer: nil, csrf: csrf, status: .forbidden)
    }

    /// `GET /link/:handle`: the confirmation page. Reads only.
    func showLink(_ request: Request, context: WebContext, handle: String) async throws -> Response {
        let csrf = CSRF(request, context)
        guard let link = verifyLink(request.cookies[Cookies.link]?.value, handle: handle, purposes: [.decide, .review, .login]) else {
            return try await invalidLink(csrf: csrf)
        }
        let preselect = FormData.query(request)["action"].flatMap(DecisionAction.init(rawValue:))
        return try await linkPage(link, handle: handle, viewer: context.identity, csrf: csrf, preselect: preselect, problem: nil, comment: nil)
    }

    /// Renders the page of a verified link for `viewer` (signed in or not).
    func linkPage(
        _ link: VerifiedLink, handle: String, viewer: Viewer?, csrf: CSRF, preselect: DecisionAction? = nil,
        problem: String?, comment: String?, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let claims = link.claims
        var context: [String: Any] = [
            "handle": handle, "csrf": csrf.token(for: "/link/\(handle)", secret: web.secret), "token": link.token,
            "subject": claims.subject, "link_expires": WebFormat.date(claims.expiresAt),
        ]
        if let problem { context["problem"] = problem }
        if let comment { context["comment_value"] = comment }
        if claims.purpose == .login {
            guard let user = try await web.service.activeUser(email: claims.subject) else { return try await invalidLink(csrf: csrf) }
            context["is_login"] = true
            context["subject_name"] = user.name
            context["used"] = try await web.service.isTokenUsed(claims)
            return try await tokenPage("link", context, title: "Sign in", viewer: viewer, csrf: csrf, status: status)
        }
        guard let view = try await web.service.linkView(claims) else {
            web.counters.increment("\(WebCounters.linkFailure).unknown_request")
            return try await invalidLink(csrf: csrf)
        }
        let names = try await web.names()
        let reviewer = EmailAddress.normalize(claims.subject)
        context["request"] = WebFormat.request(view.request, names: names, now: web.now)
        context["subject_name"] = view.reviewer?.name ?? claims.subject
        let action = preselect?.rawValue ?? claims.action
        context["preselect_approve"] = action == "approve"
        context["preselect_deny"] = action == "deny"
        context["no_preselection"] = action == nil
        context["code_required"] = view.resource.linkCodeRequired
        let choices = WebApp.grantChoices(for: view.request)
        context["grant_choices"] = choices.map { ["value": $0.value, "label": $0.label] }
        context["has_grant_choices"] = !choices.isEmpty

        if view.tokenUsed && view.request.state == .pending {
            context["notice"] = "This link was already used. Open the request on the Access Requests page instead."
        } else if let refusal = view.refusal {
            context["notice"] = WebApp.explain(refusal, request: view.request, names: names)
        } else if !view.resource.linkSignInRequired {
            context["may_decide"] = true
            context["relaxed"] = true
        } else if let viewer {
            if viewer.user.email == reviewer {
                context["may_decide"] = true
            } else {
                context["notice"] = "You are signed in as \(viewer.user.email), but this link is \(claims.subject)'s. Nothing can be decided here: sign out, or ask \(view.reviewer?.name ?? claims.subject) to use their own link."
            }
        } else {
            // LINK-2: a link alone never decides. The reviewer signs in, at the address on file or
            // through the identity provider, and comes back here.
            context["may_sign_in"] = true
            context["email_links"] = web.settings.emailLinks
            if let provider = web.settings.identityProvider {
                context["oidc_name"] = provider.displayName
                context["oidc_start"] = OIDCController.startLink(next: "/link/\(handle)" + (action.map { "?action=\($0)" } ?? ""))
            }
        }
        return try await tokenPage("link", context, title: "Access request #\(view.request.id)", viewer: viewer, csrf: csrf, status: status)
    }

    /// A page reached through a token: no referrer, no caching (LINK-9).
    func tokenPage(_ template: String, _ context: [String: Any], title: String, viewer: Viewer?, csrf: CSRF, status: HTTPResponse.Status = .ok) async throws -> Response {
        var response = try await web.page(template, context, title: title, viewer: viewer, csrf: csrf, status: status)
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

    func tokenMessage(_ title: String, _ text: String, viewer: Viewer?, csrf: CSRF, status: HTTPResponse.Status = .ok, links: [(String, String)] = []) async throws -> Response {
        var response = try await web.message(title, text, viewer: viewer, csrf: csrf, status: status, links: links)
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

    /// `POST /link/:handle`: signs in (sign-in links only), asks for a sign-in link to confirm, or
    /// decides (review and decide links, within the reviewer's session).
    func postLink(_ request: Request, context: WebContext, handle: String) async throws -> Response {
        let csrf = CSRF(request, context)
        let form = try await FormData.read(request)
        guard CSRF.verify(request, context, form: form, path: "/link/\(handle)", secret: web.secret) else {
            return try await web.formExpired(csrf: csrf)
        }
        switch form["intent"] ?? "decide" {
        case "signin": return try await signIn(request, form: form, context: context, handle: handle, csrf: csrf)
        case "confirm": return try await signInToConfirm(form: form, context: context, handle: handle, csrf: csrf)
        default: return try await decide(form: form, context: context, handle: handle, csrf: csrf)
        }
    }

    /// Signs in with a sign-in link (LINK-8: once), then goes back to where the person was going.
    /// Review, approve and deny links never sign anyone in.
    func signIn(_ request: Request, form: FormData, context: WebContext, handle: String, csrf: CSRF) async throws -> Response {
        guard let link = verifyLink(form["token"], handle: handle, purposes: [.login]) else { return try await invalidLink(csrf: csrf) }
        let evidence = ["key_id": link.keyID, "client_ip": context.clientAddress]
        switch try await web.service.signIn(with: link.claims, evidence: evidence) {
        case .unknownUser:
            return try await invalidLink(csrf: csrf)
        case .linkUsed:
            return try await tokenMessage(
                "Link already used", "This sign-in link was already used. Ask for a new one on the sign-in page.",
                viewer: nil, csrf: csrf, status: .forbidden, links: [("/login", "Sign in")]
            )
        case .signedIn(let session, let claims):
            var target = claims.requestID.map { "/requests/\($0)" } ?? "/requests"
            // Back to where this browser was going: the link's page ("Sign in to confirm"), or for a
            // plain sign-in link, the page that sent the person to sign in.
            if let back = request.cookies[Cookies.returnTo]?.value.removingPercentEncoding.flatMap(WebApp.safeReturnPath),
               claims.requestID == nil || back.hasPrefix("/link/") {
                target = back
            }
            // A session this browser held before ends: one browser, one session.
            if let previous = request.cookies[Cookies.session]?.value { try await web.service.signOut(sessionSecret: previous) }
            var response = web.startSession(session, redirectTo: target)
            response.setCookie(Cookie(name: Cookies.returnTo, value: "", maxAge: 0, path: "/", secure: web.settings.secureCookies, httpOnly: true, sameSite: .lax))
            return response
        }
    }

    /// "Sign in to confirm": emails the link's reviewer a sign-in link (to the address on file), and
    /// remembers in this browser to come back to this page with the chosen action.
    func signInToConfirm(form: FormData, context: WebContext, handle: String, csrf: CSRF) async throws -> Response {
        guard let link = verifyLink(form["token"], handle: handle, purposes: [.review, .decide]) else { return try await invalidLink(csrf: csrf) }
        guard web.settings.emailLinks else {
            return try await linkPage(link, handle: handle, viewer: nil, csrf: csrf, problem: "Emailed sign-in links are switched off here: sign in with your organisation's account.", comment: nil, status: .badRequest)
        }
        let outcome = try await web.service.requestSignInToConfirm(link.claims, client: context.clientAddress)
        if outcome == .tooManyAttempts {
            return try await tokenMessage("Too many attempts", "Too many sign-in links were asked for. Wait a few minutes and try again.", viewer: nil, csrf: csrf, status: .tooManyRequests)
        }
        var back = "/link/\(handle)"
        if let action = form["action"].flatMap(DecisionAction.init(rawValue:)) ?? link.claims.action.flatMap(DecisionAction.init(rawValue:)) {
            back += "?action=\(action.rawValue)"
        }
        var response = try await tokenMessage(
            "Check your email",
            "A sign-in link is on its way to \(link.claims.subject). Open it in this browser to come back to this request and confirm. It works once, for \(Int(web.service.settings.signInLinkLifetime / 60)) minutes.",
            viewer: nil, csrf: csrf
        )
        response.setCookie(Cookie(
            name: Cookies.returnTo, value: back.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "", maxAge: 3_600, path: "/",
            secure: web.settings.secureCookies, httpOnly: true, sameSite: .lax
        ))
        return response
    }

    /// Decides through the approval service; the link proves only which reviewer and request it is
    /// for, the session proves who is at the keyboard (LINK-2).
    func decide(form: FormData, context: WebContext, handle: String, csrf: CSRF) async throws -> Response {
        guard let link = verifyLink(form["token"], handle: handle, purposes: [.review, .decide]) else { return try await invalidLink(csrf: csrf) }
        let viewer = context.identity
        guard let requestID = link.claims.requestID, let action = form["action"].flatMap(DecisionAction.init(rawValue:)) else {
            return try await linkPage(link, handle: handle, viewer: viewer, csrf: csrf, problem: "Choose Approve or Deny.", comment: form["comment"], status: .badRequest)
        }
        let proof = LinkProof(claims: link.claims, keyID: link.keyID, signedInAs: viewer?.user.email, code: form["code"])
        let outcome = try await web.service.decide(DecisionCommand(
            requestID: requestID, action: action, comment: form["comment"], proof: .link(proof),
            evidence: ["client_ip": context.clientAddress], grantSeconds: WebApp.grantSeconds(form)
        ))
        let names = try await web.names()
        switch outcome {
        case .decided(let decided, _, _):
            let verb = decided.state == .approved ? "approved" : "denied"
            return try await tokenMessage(
                "Request \(verb)",
                "You \(verb) request #\(decided.id): \(names[decided.requester] ?? decided.requester) for \(decided.resource). The requester and the other reviewers are told by email.",
                viewer: viewer, csrf: csrf
            )
        case .approvalRecorded(let pending, _):
            let remaining = max(pending.approvalsRequired - pending.approvalCount, 1)
            return try await tokenMessage(
                "Approval recorded",
                "Your approval of request #\(pending.id) counts: \(pending.approvalCount) of \(pending.approvalsRequired). \(names[pending.requester] ?? pending.requester) gets access to \(pending.resource) after \(remaining) more approval\(remaining == 1 ? "" : "s") from another reviewer; everyone in the thread is told by email.",
                viewer: viewer, csrf: csrf
            )
        case .refused(let refusal, let latest):
            switch refusal.code {
            case .signInRequired, .wrongSession:
                return try await linkPage(link, handle: handle, viewer: viewer, csrf: csrf, preselect: action, problem: "Nothing was changed: \(refusal.detail).", comment: form["comment"], status: .forbidden)
            case .wrongCode:
                return try await linkPage(link, handle: handle, viewer: viewer, csrf: csrf, preselect: action, problem: "The confirmation code does not match the one in the email. Nothing was changed.", comment: form["comment"], status: .badRequest)
            case .codeLocked:
                return try await linkPage(link, handle: handle, viewer: viewer, csrf: csrf, preselect: action, problem: "Too many wrong codes. Wait a few minutes and try again.", comment: form["comment"], status: .tooManyRequests)
            default:
                let text = latest.map { WebApp.explain(refusal, request: $0, names: names) } ?? "This request does not exist. Nothing was changed."
                return try await tokenMessage("Nothing was changed", text, viewer: viewer, csrf: csrf, status: .conflict)
            }
        }
    }
}

extension WebApp {
    /// What a refusal means, in words for the person who tried.
    static func explain(_ refusal: DecisionRefusal, request: AccessRequest, names: [String: String]) -> String {
        switch refusal.code {
        case .notPending:
            if let decision = request.decision {
                let who = names[decision.reviewer] ?? decision.reviewer
                return "This request was already \(request.state.rawValue) by \(who) on \(WebFormat.date(decision.decidedAt)). Nothing was changed."
            }
            return "This request is already \(request.state.rawValue). Nothing was changed."
        case .pastDeadline:
            return "This request expired on \(WebFormat.date(request.expiresAt)) before anyone decided it. Nothing was changed."
        case .selfDecision:
            return "You requested this access yourself, so you cannot decide it. Nothing was changed."
        case .notAllowed, .unknownReviewer:
            return "You are no longer allowed to decide requests for \(request.resource). Nothing was changed."
        case .channelDisabled:
            return "Decisions through email links are switched off for \(request.resource). Sign in and decide on the Access Requests page."
        case .unknownRequest:
            return "This request does not exist. Nothing was changed."
        case .tokenUsed:
            return "This link was already used for a decision. Nothing was changed."
        case .alreadyApproved:
            return "You already approved this request, and each reviewer counts once: it needs \(max(request.approvalsRequired - request.approvalCount, 1)) more approval\(request.approvalsRequired - request.approvalCount == 1 ? "" : "s") from someone else. Nothing was changed."
        case .signInRequired, .wrongSession, .tokenMismatch, .wrongCode, .codeLocked, .forbidden, .durationNotAllowed:
            return "\(refusal.detail.prefix(1).uppercased())\(refusal.detail.dropFirst()). Nothing was changed."
        }
    }

    /// The page for a form whose CSRF token or cookie is missing or wrong.
    func formExpired(csrf: CSRF) async throws -> Response {
        var response = try await message(
            "This form has expired", "Nothing was changed. Open the page again and resubmit the form.",
            viewer: nil, csrf: csrf, status: .forbidden
        )
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

    /// Display names by email.
    func names() async throws -> [String: String] {
        Dictionary(try await service.directory().users.map { ($0.email, $0.name) }, uniquingKeysWith: { first, _ in first })
    }
}
