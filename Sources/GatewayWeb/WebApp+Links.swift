import ApprovalTokens
import Foundation
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

extension WebApp {
    /// The path prefixes of emailed links; the rest of such a path is a token and is never logged.
    static let tokenPrefixes = ["/review/", "/decide/", "/login/"]

    /// `GET`/`HEAD` on an emailed link: moves the token out of the URL into a cookie scoped to a clean
    /// path and redirects there (LINK-9). Nothing is verified, stored or sent (LINK-1).
    func stashLinkToken(_ token: String) -> Response {
        let handle = Self.handle(of: token)
        var response = redirect("/link/\(handle)")
        response.headers[.referrerPolicy] = "no-referrer"
        if token.utf8.count <= 3_000, token.utf8.allSatisfy(Self.isTokenByte) {
            response.setCookie(Cookie(
                name: Cookies.link, value: token, maxAge: 3_600, path: "/link/\(handle)",
                secure: settings.secureCookies, httpOnly: true, sameSite: .lax
            ))
        }
        return response
    }

    /// The clean path's name for a token: 128 bits of its SHA-256, useless without the token.
    static func handle(of token: String) -> String { String(WebCrypto.sha256Hex(token).prefix(32)) }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            || (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }

    /// Verifies `token` for one of `purposes` and checks that it belongs to `handle`. Failures are
    /// counted by reason; callers show them all the same way (LINK-10).
    func verifyLink(_ token: String?, handle: String, purposes: [TokenPurpose]) -> VerifiedLink? {
        guard let token, WebCrypto.constantTimeEquals(Self.handle(of: token), handle) else {
            counters.increment("\(WebCounters.linkFailure).\(token == nil ? "missing" : "mismatch")")
            return nil
        }
        var reason = "wrong_purpose"
        for purpose in purposes {
            do {
                let claims = try signer.verify(token, purpose: purpose, now: now)
                let keyID = token.split(separator: ".", maxSplits: 2).dropFirst().first.map(String.init) ?? ""
                return VerifiedLink(claims: claims, keyID: keyID, token: token)
            } catch {
                if error.reason != .wrongPurpose { reason = error.reason.rawValue }
            }
        }
        counters.increment("\(WebCounters.linkFailure).\(reason)")
        return nil
    }

    /// The one page every link failure shows (LINK-10).
    func invalidLink(csrf: CSRF) async throws -> Response {
        var response = try await page("link_invalid", [:], title: "Link not valid", viewer: nil, csrf: csrf, status: .forbidden)
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

    /// `GET /link/:handle`: the confirmation page. Reads only.
    func showLink(_ request: Request, handle: String) async throws -> Response {
        let csrf = CSRF(request)
        guard let link = verifyLink(request.cookies[Cookies.link]?.value, handle: handle, purposes: [.decide, .review, .login]) else {
            return try await invalidLink(csrf: csrf)
        }
        return try await linkPage(link, handle: handle, csrf: csrf, problem: nil, comment: nil)
    }

    /// Renders the confirmation page of a verified link.
    func linkPage(_ link: VerifiedLink, handle: String, csrf: CSRF, problem: String?, comment: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        let claims = link.claims
        let token = link.token
        var context: [String: Any] = [
            "handle": handle, "csrf": csrf.token(for: "/link/\(handle)", secret: secret), "token": token,
            "subject": claims.subject, "link_expires": WebFormat.date(claims.expiresAt),
        ]
        if let problem { context["problem"] = problem }
        if let comment { context["comment_value"] = comment }
        let used = try await store.isTokenUsed(nonceDigest: claims.nonceDigest)
        if claims.purpose == .login {
            guard let user = try await store.user(email: claims.subject), user.isActive else { return try await invalidLink(csrf: csrf) }
            context["is_login"] = true
            context["subject_name"] = user.name
            context["used"] = used
            return try await tokenPage("link", context, title: "Sign in", csrf: csrf, status: status)
        }
        guard let requestID = claims.requestID, let accessRequest = try await store.request(id: requestID) else {
            counters.increment("\(WebCounters.linkFailure).unknown_request")
            return try await invalidLink(csrf: csrf)
        }
        let resource = try await store.resource(named: accessRequest.resource)
        let reviewer = try await store.user(email: claims.subject)
        let names = Dictionary(try await store.users().map { ($0.email, $0.name) }, uniquingKeysWith: { a, _ in a })
        context["request"] = WebFormat.request(accessRequest, names: names, now: now)
        context["subject_name"] = reviewer?.name ?? claims.subject
        context["is_review"] = claims.purpose == .review
        context["may_sign_in"] = claims.purpose == .review && reviewer?.isActive == true
        context["preselect_approve"] = claims.action == "approve"
        context["preselect_deny"] = claims.action == "deny"
        context["no_preselection"] = claims.action == nil
        context["code_required"] = resource?.linkCodeRequired == true

        if used && accessRequest.state == .pending {
            context["notice"] = "This link was already used. Open the request on the Access Requests page instead."
        } else if let resource {
            let groups = Set(try await store.groups().filter { $0.members.contains(EmailAddress.normalize(claims.subject)) }.map(\.name))
            let facts = DecisionPolicy.Facts(request: accessRequest, resource: resource, reviewer: reviewer, reviewerGroups: groups, channel: .link, now: now)
            do throws(DecisionRefusal) {
                _ = try DecisionPolicy.authorize(facts)
                context["may_decide"] = true
            } catch {
                context["notice"] = Self.explain(error, request: accessRequest, names: names)
            }
        }
        return try await tokenPage("link", context, title: "Access request #\(accessRequest.id)", csrf: csrf, status: status)
    }

    /// A page reached through a token: no referrer, no caching (LINK-9).
    func tokenPage(_ template: String, _ context: [String: Any], title: String, csrf: CSRF, status: HTTPResponse.Status = .ok) async throws -> Response {
        var response = try await page(template, context, title: title, viewer: nil, csrf: csrf, status: status)
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

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
        default:
            return "This link was already used for a decision. Nothing was changed."
        }
    }

    /// `POST /link/:handle`: signs in (review and login links) or decides (review and decide links).
    func postLink(_ request: Request, context: WebContext, handle: String) async throws -> Response {
        let csrf = CSRF(request)
        let form = try await FormData.read(request)
        guard CSRF.verify(request, form: form, path: "/link/\(handle)", secret: secret) else {
            return try await formExpired(csrf: csrf)
        }
        let intent = form["intent"] ?? "decide"
        guard let link = verifyLink(form["token"], handle: handle, purposes: intent == "signin" ? [.review, .login] : [.review, .decide]) else {
            return try await invalidLink(csrf: csrf)
        }
        let claims = link.claims
        let evidence = [
            "key_id": link.keyID, "nonce_digest": claims.nonceDigest, "client_ip": context.clientAddress,
            "token_purpose": claims.purpose.rawValue,
        ]
        if intent == "signin" {
            guard let user = try await store.user(email: claims.subject), user.isActive else { return try await invalidLink(csrf: csrf) }
            guard try await store.consumeSignInToken(nonceDigest: claims.nonceDigest, expiresAt: claims.expiresAt, now: now) else {
                var response = try await message(
                    "Link already used", "This sign-in link was already used. Ask for a new one on the sign-in page.",
                    viewer: nil, csrf: csrf, status: .forbidden, links: [("/login", "Sign in")]
                )
                response.headers[.referrerPolicy] = "no-referrer"
                return response
            }
            let target = claims.requestID.map { "/requests/\($0)" } ?? "/requests"
            return try await startSession(for: user.email, redirectTo: target, evidence: evidence)
        }

        guard let requestID = claims.requestID, let action = form["action"].flatMap(DecisionAction.init(rawValue:)) else {
            return try await linkPage(link, handle: handle, csrf: csrf, problem: "Choose Approve or Deny.", comment: form["comment"], status: .badRequest)
        }
        let current = try await store.request(id: requestID)
        if let current, let resource = try await store.resource(named: current.resource), resource.linkCodeRequired {
            let bucket = "code:\(requestID):\(claims.subject)"
            guard try await store.allowAttempt(bucket: bucket, limit: settings.linkCodeAttempts, window: settings.signInWindow, now: now) else {
                return try await linkPage(link, handle: handle, csrf: csrf, problem: "Too many wrong codes. Wait a few minutes and try again.", comment: form["comment"], status: .tooManyRequests)
            }
            guard let code = form["code"], LinkCode.verify(code, requestID: requestID, reviewer: claims.subject, ring: signer.keyRing) else {
                try await store.appendAudit(action: "link_code", actor: claims.subject, requestID: requestID, channel: .link, outcome: "refused", reason: "wrong_code", detail: evidence, now: now)
                return try await linkPage(link, handle: handle, csrf: csrf, problem: "The confirmation code does not match the one in the email. Nothing was changed.", comment: form["comment"], status: .badRequest)
            }
        }
        var attemptEvidence = evidence
        if let linkAction = claims.action { attemptEvidence["link_action"] = linkAction }
        let outcome = try await store.decide(
            DecisionAttempt(
                requestID: requestID, reviewer: claims.subject, action: action, channel: .link, comment: form["comment"],
                evidence: attemptEvidence, tokenNonce: claims.nonceDigest
            ),
            now: now
        )
        let names = Dictionary(try await store.users().map { ($0.email, $0.name) }, uniquingKeysWith: { a, _ in a })
        var response: Response
        switch outcome {
        case .decided(let decided, _, _):
            let verb = decided.state == .approved ? "approved" : "denied"
            response = try await message(
                "Request \(verb)",
                "You \(verb) request #\(decided.id): \(names[decided.requester] ?? decided.requester) for \(decided.resource). The requester and the other reviewers are told by email.",
                viewer: nil, csrf: csrf
            )
        case .refused(let refusal, let latest):
            let text = (latest ?? current).map { Self.explain(refusal, request: $0, names: names) } ?? "This request does not exist. Nothing was changed."
            response = try await message("Nothing was changed", text, viewer: nil, csrf: csrf, status: .conflict)
        }
        response.headers[.referrerPolicy] = "no-referrer"
        return response
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
}
