import Foundation
import GatewayCore

/// What revoking a grant came to.
public enum GrantRevocation: Sendable, Hashable {
    /// The grant ended now; the requester is told.
    case revoked(Grant)
    /// It had already ended (its time ran out, or someone revoked it first): nothing changed.
    case alreadyEnded(Grant)
}

extension ApprovalService {
    /// Ends grant `id` now (early revocation): `access check` and `GET /access` say no at once, the
    /// requester is emailed, and the audit log records who and why. Admin-role users (admin,
    /// devops, access_reviewer) and the operator may revoke.
    /// - Throws: ``AccessDenied``, or ``RequestError`` (`unknown_grant`).
    public func revokeGrant(id: Int64, reason: String?, by actor: Actor) async throws -> GrantRevocation {
        let now = self.now
        let reason = Self.revocationReason(reason)
        return try await storage.write { [self] tx in
            try requireGrantRevocation(actor, in: tx)
            guard let grant = try tx.grant(id: id) else { throw RequestError(.unknownGrant, "there is no grant \(id)") }
            return try revoke(grant, reason: reason, by: actor, in: tx, now: now)
        }
    }

    /// Revokes every running grant of `user` on `resource` (the command line's form).
    /// - Throws: ``AccessDenied``, or ``RequestError`` (`unknown_requester`, `unknown_resource`,
    ///   `no_active_grant`).
    public func revokeGrants(user: String, resource: String, reason: String?, by actor: Actor) async throws -> [Grant] {
        let user = EmailAddress.normalize(user)
        let now = self.now
        let reason = Self.revocationReason(reason)
        return try await storage.write { [self] tx in
            try requireGrantRevocation(actor, in: tx)
            guard try tx.user(email: user) != nil else { throw RequestError(.unknownRequester, "\(user) is not a user of the directory") }
            guard try tx.resource(named: resource) != nil else { throw RequestError(.unknownResource, "there is no resource named \"\(resource)\"") }
            let running = try tx.grants(user: user).filter { $0.resource == resource && $0.isActive(at: now) }
            guard !running.isEmpty else { throw RequestError(.noActiveGrant, "\(user) has no running grant on \(resource)") }
            return try running.compactMap { grant in
                if case .revoked(let ended) = try revoke(grant, reason: reason, by: actor, in: tx, now: now) { return ended }
                return nil
            }
        }
    }

    private func revoke(_ grant: Grant, reason: String?, by actor: Actor, in tx: any StoreTransaction, now: Date) throws -> GrantRevocation {
        guard try tx.revokeGrant(id: grant.id, now: now, by: actor.auditName, reason: reason),
              let ended = try tx.grant(id: grant.id) else { return .alreadyEnded(grant) }
        var detail = ["grant_id": String(grant.id), "user": grant.user, "resource": grant.resource, "was_until": RFC3339.string(from: grant.endsAt)]
        if let reason { detail["reason"] = reason }
        try tx.audit(.revoke, .accepted, actor: actor.auditName, requestID: grant.requestID, channel: actor.channel, detail: detail, at: now)
        var context = ["ended_at": RFC3339.string(from: now), "revoked_by": actor.auditName ?? "an administrator"]
        if let reason { context["revoke_reason"] = reason }
        try tx.enqueue(.grantRevoked, requestID: grant.requestID, recipient: NotificationRecipient(email: grant.user, reason: "requester"), context: context, now: now)
        return .revoked(ended)
    }

    /// A reason as kept: trimmed, at most 500 characters, `nil` when empty.
    static func revocationReason(_ text: String?) -> String? {
        guard let trimmed = text?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else { return nil }
        return String(trimmed.prefix(500))
    }

    private func requireGrantRevocation(_ actor: Actor, in tx: any StoreTransaction) throws {
        let email: String
        switch actor {
        case .cli: return
        case .session(let viewer): email = viewer.user.email
        case .apiKey(let key):
            guard let owner = key.user else { throw AccessDenied("only the personal key of an admin, devops or access_reviewer user revokes access") }
            email = owner
        }
        guard let user = try tx.user(email: email), user.isActive, user.role.reviewsEverything else {
            throw AccessDenied("only admin, devops and access_reviewer users revoke access")
        }
    }
}
