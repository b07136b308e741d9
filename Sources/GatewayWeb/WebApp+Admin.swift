import Foundation
import GatewayCore
import Hummingbird

extension WebApp {
    /// Runs `body` for an admin-role user; anyone else gets the not-found page (approvers see only
    /// the Access Requests page).
    func admin(_ request: Request, _ body: (Viewer, CSRF) async throws -> Response) async throws -> Response {
        try await signedIn(request) { viewer, csrf in
            guard viewer.isAdminRole else { return try await notFound(viewer: viewer, csrf: csrf) }
            return try await body(viewer, csrf)
        }
    }

    func addAdminRoutes(to router: Router<WebContext>) {
        router.get("/users") { request, _ in try await showUsers(request) }
        router.get("/users/:email") { request, context in
            try await showUser(request, email: try context.parameters.require("email"))
        }
        router.get("/resources") { request, _ in try await showResources(request) }
        router.get("/resources/:name") { request, context in
            try await showResource(request, name: try context.parameters.require("name"), problem: nil)
        }
        router.post("/resources/:name/approvers") { request, context in
            try await saveApprovers(request, context: context, name: try context.parameters.require("name"))
        }
        router.get("/settings/notifications") { request, _ in try await showNotificationSettings(request, saved: false) }
        router.post("/settings/notifications") { request, context in try await saveNotificationSettings(request, context: context) }
    }

    func groupsByUser() async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for group in try await store.groups() {
            for member in group.members { result[member, default: []].append(group.name) }
        }
        return result.mapValues { $0.sorted() }
    }

    func showUsers(_ request: Request) async throws -> Response {
        try await admin(request) { viewer, csrf in
            let groups = try await groupsByUser()
            let users = try await store.users().map { user -> [String: Any] in
                ["name": user.name, "email": user.email, "role": user.role.rawValue, "active": user.isActive, "groups": groups[user.email]?.joined(separator: ", ") ?? ""]
            }
            return try await page("users", ["users": users], title: "Users", viewer: viewer, csrf: csrf)
        }
    }

    func showUser(_ request: Request, email: String) async throws -> Response {
        try await admin(request) { viewer, csrf in
            guard let user = try await store.user(email: email) else { return try await notFound(viewer: viewer, csrf: csrf) }
            let requests = try await store.requests(RequestFilter(requester: user.email, limit: 500))
            let grants = try await store.grants(user: user.email).map { grant -> [String: Any] in
                ["resource": grant.resource, "starts": WebFormat.date(grant.startsAt), "ends": WebFormat.date(grant.endsAt), "request_id": String(grant.requestID), "active": grant.isActive(at: now)]
            }
            let context: [String: Any] = [
                "user": Self.userContext(user, groups: try await groupsByUser()[user.email] ?? []),
                "rows": try await rows(requests, viewer: viewer, csrf: csrf, returnTo: "/users/\(Self.formEncode(user.email))"),
                "empty": requests.isEmpty, "grants": grants, "no_grants": grants.isEmpty,
            ]
            return try await page("user", context, title: user.name, viewer: viewer, csrf: csrf)
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
        ]
        if !resource.approverGroups.isEmpty { context["approvers"] = resource.approverGroups.joined(separator: ", ") }
        return context
    }

    func showResources(_ request: Request) async throws -> Response {
        try await admin(request) { viewer, csrf in
            let open = try await store.requests(RequestFilter(states: [.pending], limit: 100_000))
            let counts = Dictionary(grouping: open.filter { $0.isOpen(at: now) }, by: \.resource).mapValues(\.count)
            let resources = try await store.resources().map { resource -> [String: Any] in
                var context = Self.resourceContext(resource)
                context["open"] = counts[resource.name] ?? 0
                return context
            }
            return try await page("resources", ["resources": resources], title: "Resources", viewer: viewer, csrf: csrf)
        }
    }

    /// A resource with all its open requests (for every user) and, with `?dialog=approvers`, the
    /// Approvers dialog (an open `<dialog>`: no script needed).
    func showResource(_ request: Request, name: String, problem: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        try await admin(request) { viewer, csrf in
            guard let resource = try await store.resource(named: name) else { return try await notFound(viewer: viewer, csrf: csrf) }
            let query = FormData.query(request)
            let open = try await store.requests(RequestFilter(states: [.pending], resource: name, limit: 10_000)).filter { $0.isOpen(at: now) }
            var resourceContext = Self.resourceContext(resource)
            resourceContext["may_edit"] = viewer.mayEditDirectory
            var context: [String: Any] = [
                "resource": resourceContext, "resource_name": resource.name,
                "rows": try await rows(open, viewer: viewer, csrf: csrf, returnTo: "/resources/\(Self.formEncode(name))"),
                "empty": open.isEmpty, "saved": query["saved"] != nil,
            ]
            if viewer.mayEditDirectory, query["dialog"] == "approvers" || problem != nil {
                context["dialog"] = true
                context["csrf"] = csrf.token(for: "/resources/\(name)/approvers", secret: secret)
                context["groups"] = try await store.groups().map { group -> [String: Any] in
                    ["name": group.name, "members": group.members.sorted().joined(separator: ", "), "checked": resource.approverGroups.contains(group.name)]
                }
                if let problem { context["problem"] = problem }
            }
            return try await page("resource", context, title: resource.name, viewer: viewer, csrf: csrf, status: status)
        }
    }

    /// `POST /resources/:name/approvers`: replaces the approver groups (audited). The edit lasts until
    /// the directory file changes and is imported again.
    func saveApprovers(_ request: Request, context: WebContext, name: String) async throws -> Response {
        try await admin(request) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, form: form, path: "/resources/\(name)/approvers", secret: secret) else { return try await formExpired(csrf: csrf) }
            guard viewer.mayEditDirectory else {
                return try await message("Not allowed", "Only admin and devops users change approvers. Nothing was changed.", viewer: viewer, csrf: csrf, status: .forbidden)
            }
            do {
                _ = try await store.setApproverGroups(form.all("group"), resource: name, actor: viewer.user.email, channel: .web, now: now)
            } catch let error as DirectoryEditError {
                return try await showResource(request, name: name, problem: error.detail, status: .badRequest)
            }
            return redirect("/resources/\(Self.formEncode(name))?saved=1")
        }
    }

    func showNotificationSettings(_ request: Request, saved: Bool) async throws -> Response {
        try await admin(request) { viewer, csrf in
            let users = try await store.users().filter(\.isActive)
            var admins: [[String: Any]] = []
            for user in users where user.role.reviewsEverything {
                let preferences = try await store.notificationPreferences(for: user.email)
                admins.append([
                    "name": user.name, "email": user.email, "role": user.role.rawValue,
                    "new_requests": preferences.newRequests, "outcomes": preferences.outcomes, "may_edit": viewer.mayEditDirectory,
                ])
            }
            let approverGroups = Set(try await store.resources().filter(\.isActive).flatMap(\.approverGroups))
            let groups = try await groupsByUser()
            let approvers = users.filter { !$0.role.reviewsEverything && !(groups[$0.email] ?? []).filter(approverGroups.contains).isEmpty }
                .map { user -> [String: Any] in
                    ["name": user.name, "email": user.email, "groups": (groups[user.email] ?? []).filter(approverGroups.contains).joined(separator: ", ")]
                }
            let context: [String: Any] = [
                "admins": admins, "approvers": approvers, "saved": saved, "may_edit": viewer.mayEditDirectory,
                "csrf": csrf.token(for: "/settings/notifications", secret: secret),
            ]
            return try await page("notifications", context, title: "Notification settings", viewer: viewer, csrf: csrf)
        }
    }

    /// `POST /settings/notifications`: saves every listed admin-role user's preferences (each change audited by the store).
    func saveNotificationSettings(_ request: Request, context: WebContext) async throws -> Response {
        try await admin(request) { viewer, csrf in
            let form = try await FormData.read(request)
            guard CSRF.verify(request, form: form, path: "/settings/notifications", secret: secret) else { return try await formExpired(csrf: csrf) }
            guard viewer.mayEditDirectory else {
                return try await message("Not allowed", "Only admin and devops users change notification settings. Nothing was changed.", viewer: viewer, csrf: csrf, status: .forbidden)
            }
            for email in Set(form.all("user")) {
                guard let user = try await store.user(email: email), user.isActive, user.role.reviewsEverything else { continue }
                let wanted = NotificationPreferences(newRequests: form["new:\(user.email)"] == "on", outcomes: form["outcomes:\(user.email)"] == "on")
                if try await store.notificationPreferences(for: user.email) != wanted {
                    try await store.setNotificationPreferences(wanted, for: user.email, actor: viewer.user.email, now: now)
                }
            }
            return try await showNotificationSettings(request, saved: true)
        }
    }
}
