import Foundation
import GatewayApp
import GatewayCore
import Hummingbird

/// The admin pages: users, resources (with the Approvers dialog) and notification settings.
/// Admin roles only; approvers and requesters get the not-found page.
struct AdminController: Sendable {
    let web: WebApp

    func addRoutes(to router: Router<WebContext>) {
        router.get("/users") { request, context in try await showUsers(request, context) }
        router.get("/users/:email") { request, context in
            // The page's own links and return paths encode the address (`%40` for `@`).
            let email = try context.parameters.require("email")
            return try await showUser(request, context, email: email.removingPercentEncoding ?? email)
        }
        router.get("/resources") { request, context in try await showResources(request, context) }
        router.get("/resources/:name") { request, context in
            try await showResource(request, context, name: try context.parameters.require("name"), problem: nil)
        }
        router.post("/resources/:name/approvers") { request, context in
            try await saveApprovers(request, context, name: try context.parameters.require("name"))
        }
        router.post("/grants/:id/revoke") { request, context in
            try await revokeGrant(request, context, id: try context.parameters.require("id", as: Int64.self))
        }
        router.get("/settings/notifications") { request, context in try await showNotificationSettings(request, context, saved: false) }
        router.post("/settings/notifications") { request, context in try await saveNotificationSettings(request, context) }
    }

    /// Runs `body` for an admin-role user; anyone else gets the not-found page (approvers see only
    /// the Access Requests page).
    func admin(_ request: Request, _ context: WebContext, _ body: (Viewer, CSRF) async throws -> Response) async throws -> Response {
        try await web.signedIn(request, context) { viewer, csrf in
            guard viewer.isAdminRole else { return try await web.notFound(viewer: viewer, csrf: csrf) }
            return try await body(viewer, csrf)
        }
    }

    func groupsByUser() async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for group in try await web.service.directory().groups {
            for member in group.members { result[member, default: []].append(group.name) }
        }
        return result.mapValues { $0.sorted() }
    }

    func showUsers(_ request: Request, _ context: WebContext) async throws -> Response {
        try await admin(request, context) { viewer, csrf in
            let groups = try await groupsByUser()
            let users = try await web.service.directory().users.map { user -> [String: Any] in
                ["name": user.name, "email": user.email, "role": user.role.rawValue, "active": user.isActive, "groups": groups[user.email]?.joined(separator: ", ") ?? ""]
            }
            return try await web.page("users", ["users": users], title: "Users", viewer: viewer, csrf: csrf)
        }
    }

    func showUser(_ request: Request, _ context: WebContext, email: String) async throws -> Response {
        try await admin(request, context) { viewer, csrf in
            guard let user = try await web.service.directory().users.first(where: { $0.email == EmailAddress.normalize(email) }) else { return try await web.notFound(viewer: viewer, csrf: csrf) }
            let back = "/users/\(WebApp.formEncode(user.email))"
            let page = KeysetPage(query: FormData.query(request), size: web.settings.pageSize)
            let listing = try await web.service.requestListing(.everyone, for: viewer, filter: RequestFilter(requester: user.email, limit: page.limit, position: page.position))
            let (requests, links) = page.finish(listing.requests, link: { extra in back + (extra.map { "?" + $0 } ?? "") })
            let grants = try await web.service.grants(of: user.email, for: viewer).map { grantRow($0, csrf: csrf, returnTo: back) }
            var context: [String: Any] = [
                "user": Self.userContext(user, groups: try await groupsByUser()[user.email] ?? []),
                "request_table": web.requestTable(requests, of: listing, viewer: viewer, csrf: csrf, returnTo: back + (page.parameter.map { "?" + $0 } ?? "")),
                "empty": requests.isEmpty, "grants": grants, "no_grants": grants.isEmpty,
            ]
            context.merge(links) { _, new in new }
            return try await web.page("user", context, title: user.name, viewer: viewer, csrf: csrf, bell: listing.openRequestCount)
        }
    }

    /// A grant's row, with the Revoke form while it runs.
    func grantRow(_ grant: Grant, csrf: CSRF, returnTo: String) -> [String: Any] {
        var row: [String: Any] = [
            "id": String(grant.id), "user": grant.user, "resource": grant.resource, "starts": WebFormat.date(grant.startsAt),
            "ends": WebFormat.date(grant.endsAt), "request_id": String(grant.requestID), "active": grant.isActive(at: web.now),
            "return_to": returnTo, "revoke_csrf": csrf.token(for: "/grants/\(grant.id)/revoke", secret: web.secret),
        ]
        if grant.revokedAt != nil {
            row["revoked"] = true
            row["revoked_by"] = grant.revokedBy ?? "the operator"
            if let reason = grant.revokeReason { row["revoke_reason"] = reason }
        }
        return row
    }

    /// `POST /grants/:id/revoke`: ends a running grant now (admin roles), then back to the page.
    func revokeGrant(_ request: Request, _ context: WebContext, id: Int64) async throws -> Response {
        try await admin(request, context) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, context, form: form, path: "/grants/\(id)/revoke", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
            let back = form["return_to"].flatMap(WebApp.safeReturnPath) ?? "/users"
            do {
                switch try await web.service.revokeGrant(id: id, reason: form["reason"], by: .session(viewer)) {
                case .revoked:
                    return web.redirect(back)
                case .alreadyEnded(let grant):
                    return try await web.message(
                        "Nothing was changed", "This grant of \(grant.user) on \(grant.resource) had already ended (\(WebFormat.date(grant.endsAt))).",
                        viewer: viewer, csrf: csrf, status: .conflict, links: [(back, "Back")]
                    )
                }
            } catch let denied as AccessDenied {
                return try await web.message("Not allowed", denied.message, viewer: viewer, csrf: csrf, status: .forbidden, links: [(back, "Back")])
            } catch let error as RequestError where error.code == .unknownGrant {
                return try await web.notFound(viewer: viewer, csrf: csrf)
            }
        }
    }

    static func userContext(_ user: User, groups: [String]) -> [String: Any] {
        var context: [String: Any] = ["name": user.name, "email": user.email, "role": user.role.rawValue, "active": user.isActive]
        // Absent when empty: an empty string still opens a Mustache section.
        if !groups.isEmpty { context["groups"] = groups.joined(separator: ", ") }
        return context
    }

    static func resourceContext(_ resource: Resource) -> [String: Any] {
        var context: [String: Any] = [
            "name": resource.name, "active": resource.isActive,
            "durations": resource.allowedDurations.map { DurationText.format(seconds: $0) }.joined(separator: ", "),
            "pending_ttl": WebFormat.duration(resource.pendingTTL),
            "links": resource.linkDecisionsEnabled ? (resource.linkCodeRequired ? "on, with confirmation code" : "on") : "off",
            "replies": resource.replyDecisionsEnabled ? "on" : "off",
            "link_sign_in": resource.linkSignInRequired ? "required" : "not required (relaxed by an admin: anyone holding a link decides)",
            "approvals_required": resource.approvalsRequired == 1 ? "1 (one reviewer decides)" : "\(resource.approvalsRequired) distinct reviewers (one deny denies)",
        ]
        if let seconds = resource.escalateAfterSeconds {
            let who = resource.escalationGroups.isEmpty ? "the admin roles" : resource.escalationGroups.joined(separator: ", ")
            context["escalation"] = "after \(WebFormat.duration(seconds)), to \(who)"
        }
        if !resource.approverGroups.isEmpty { context["approvers"] = resource.approverGroups.joined(separator: ", ") }
        return context
    }

    func showResources(_ request: Request, _ context: WebContext) async throws -> Response {
        try await admin(request, context) { viewer, csrf in
            let open = try await web.service.requestsForAdmin(viewer, filter: RequestFilter(states: [.pending], limit: 100_000))
            let counts = Dictionary(grouping: open.filter { $0.isOpen(at: web.now) }, by: \.resource).mapValues(\.count)
            let resources = try await web.service.directory().resources.map { resource -> [String: Any] in
                var context = Self.resourceContext(resource)
                context["open"] = counts[resource.name] ?? 0
                return context
            }
            return try await web.page("resources", ["resources": resources], title: "Resources", viewer: viewer, csrf: csrf)
        }
    }

    /// A resource with all its open requests (for every user) and, with `?dialog=approvers`, the
    /// Approvers dialog (an open `<dialog>`: no script needed).
    func showResource(_ request: Request, _ context: WebContext, name: String, problem: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        try await admin(request, context) { viewer, csrf in
            guard let resource = viewer.resources[name] else { return try await web.notFound(viewer: viewer, csrf: csrf) }
            let query = FormData.query(request)
            let listing = try await web.service.requestListing(.everyone, for: viewer, filter: RequestFilter(states: [.pending], resource: name, limit: 10_000))
            let open = listing.requests.filter { $0.isOpen(at: web.now) }
            var resourceContext = Self.resourceContext(resource)
            resourceContext["may_edit"] = viewer.mayEditDirectory
            let back = "/resources/\(WebApp.formEncode(name))"
            let running = try await web.service.runningGrants(of: name, for: viewer).map { grantRow($0, csrf: csrf, returnTo: back) }
            var context: [String: Any] = [
                "resource": resourceContext, "resource_name": resource.name,
                "request_table": web.requestTable(open, of: listing, viewer: viewer, csrf: csrf, returnTo: back),
                "empty": open.isEmpty, "saved": query["saved"] != nil, "grants": running, "no_grants": running.isEmpty,
            ]
            if viewer.mayEditDirectory, query["dialog"] == "approvers" || problem != nil {
                context["dialog"] = true
                context["csrf"] = csrf.token(for: "/resources/\(name)/approvers", secret: web.secret)
                context["groups"] = try await web.service.directory().groups.map { group -> [String: Any] in
                    ["name": group.name, "members": group.members.sorted().joined(separator: ", "), "checked": resource.approverGroups.contains(group.name)]
                }
                if let problem { context["problem"] = problem }
            }
            return try await web.page("resource", context, title: resource.name, viewer: viewer, csrf: csrf, status: status, bell: listing.openRequestCount)
        }
    }

    /// `POST /resources/:name/approvers`: replaces the approver groups (audited). The edit lasts until
    /// the directory file changes and is imported again.
    func saveApprovers(_ request: Request, _ context: WebContext, name: String) async throws -> Response {
        try await admin(request, context) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, context, form: form, path: "/resources/\(name)/approvers", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
            guard viewer.mayEditDirectory else {
                return try await web.message("Not allowed", "Only admin and devops users change approvers. Nothing was changed.", viewer: viewer, csrf: csrf, status: .forbidden)
            }
            do {
                _ = try await web.service.setApproverGroups(form.all("group"), resource: name, by: .session(viewer))
            } catch let error as DirectoryEditError {
                return try await showResource(request, context, name: name, problem: error.detail, status: .badRequest)
            }
            return web.redirect("/resources/\(WebApp.formEncode(name))?saved=1")
        }
    }

    func showNotificationSettings(_ request: Request, _ context: WebContext, saved: Bool) async throws -> Response {
        try await admin(request, context) { viewer, csrf in
            let directory = try await web.service.directory()
            let stored = try await web.service.notificationPreferences()
            let users = directory.users.filter(\.isActive)
            var admins: [[String: Any]] = []
            for user in users where user.role.reviewsEverything {
                let preferences = stored[user.email] ?? .default
                admins.append([
                    "name": user.name, "email": user.email, "role": user.role.rawValue,
                    "new_requests": preferences.newRequests, "outcomes": preferences.outcomes, "may_edit": viewer.mayEditDirectory,
                ])
            }
            let approverGroups = Set(directory.resources.filter(\.isActive).flatMap(\.approverGroups))
            let groups = try await groupsByUser()
            let approvers = users.filter { !$0.role.reviewsEverything && !(groups[$0.email] ?? []).filter(approverGroups.contains).isEmpty }
                .map { user -> [String: Any] in
                    ["name": user.name, "email": user.email, "groups": (groups[user.email] ?? []).filter(approverGroups.contains).joined(separator: ", ")]
                }
            let context: [String: Any] = [
                "admins": admins, "approvers": approvers, "saved": saved, "may_edit": viewer.mayEditDirectory,
                "csrf": csrf.token(for: "/settings/notifications", secret: web.secret),
            ]
            return try await web.page("notifications", context, title: "Notification settings", viewer: viewer, csrf: csrf)
        }
    }

    /// `POST /settings/notifications`: saves every listed admin-role user's preferences (each change audited by the store).
    func saveNotificationSettings(_ request: Request, _ context: WebContext) async throws -> Response {
        try await admin(request, context) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, context, form: form, path: "/settings/notifications", secret: web.secret) else { return try await web.formExpired(csrf: csrf) }
            guard viewer.mayEditDirectory else {
                return try await web.message("Not allowed", "Only admin and devops users change notification settings. Nothing was changed.", viewer: viewer, csrf: csrf, status: .forbidden)
            }
            let users = Dictionary(try await web.service.directory().users.map { ($0.email, $0) }, uniquingKeysWith: { a, _ in a })
            for email in Set(form.all("user").map(EmailAddress.normalize)) {
                guard let user = users[email], user.isActive, user.role.reviewsEverything else { continue }
                let wanted = NotificationPreferences(newRequests: form["new:\(user.email)"] == "on", outcomes: form["outcomes:\(user.email)"] == "on")
                try await web.service.setNotificationPreferences(wanted, for: user.email, by: .session(viewer))
            }
            return try await showNotificationSettings(request, context, saved: true)
        }
    }
}
