import Foundation

/// What someone asks for when they open a request.
public struct NewAccessRequest: Sendable, Hashable {
    public var requester: String
    public var resource: String
    public var reason: String
    /// Requested JIT duration in seconds; `nil` picks the resource's shortest option.
    public var durationSeconds: Int?
    /// `nil` picks the kind from the facts: ``RequestKind/unlock`` when the requester's access is locked.
    public var kind: RequestKind?

    public init(requester: String, resource: String, reason: String, durationSeconds: Int? = nil, kind: RequestKind? = nil) {
        self.requester = EmailAddress.normalize(requester)
        self.resource = resource
        self.reason = reason
        self.durationSeconds = durationSeconds
        self.kind = kind
    }
}

/// Why a request could not be opened or cancelled.
public struct RequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case unknownRequester = "unknown_requester"
        case unknownResource = "unknown_resource"
        case missingReason = "missing_reason"
        case reasonTooLong = "reason_too_long"
        case durationNotAllowed = "duration_not_allowed"
        case durationNotApplicable = "duration_not_applicable"
        case accessLocked = "access_locked"
        case notLocked = "not_locked"
        case duplicatePending = "duplicate_pending"
        case unknownRequest = "unknown_request"
        case notRequester = "not_requester"
        case notPending = "not_pending"
        case notAdminRole = "not_admin_role"
        case unknownGrant = "unknown_grant"
        case noActiveGrant = "no_active_grant"
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }
}

/// The rules for opening a request, pure so that every channel applies the same ones.
public enum RequestRules {
    /// The longest reason accepted, in characters.
    public static let maximumReasonLength = 2_000

    /// A validated request, ready to be stored.
    public struct Accepted: Sendable, Hashable {
        public var kind: RequestKind
        public var durationSeconds: Int?
        public var reason: String
        public var expiresAt: Date
    }

    /// Validates a new request against the directory and the requester's current state.
    /// - Parameters:
    ///   - lock: the requester's unlifted auto-lock on the resource, if any.
    ///   - pending: the requester's pending request for the same resource, if any.
    public static func validate(
        _ new: NewAccessRequest, requester: User?, resource: Resource?, lock: AccessLock?,
        pending: AccessRequest?, now: Date
    ) throws(RequestError) -> Accepted {
        guard let requester, requester.isActive else {
            throw RequestError(.unknownRequester, "\(new.requester) is not a user of the directory")
        }
        guard let resource, resource.isActive else {
            throw RequestError(.unknownResource, "there is no resource named \"\(new.resource)\"")
        }
        let reason = new.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw RequestError(.missingReason, "a reason is required") }
        guard reason.count <= maximumReasonLength else {
            throw RequestError(.reasonTooLong, "the reason is longer than \(maximumReasonLength) characters")
        }
        if let pending, pending.isOpen(at: now) {
            throw RequestError(
                .duplicatePending,
                "\(requester.email) already has pending request \(pending.id) for \(resource.name)"
            )
        }
        let locked = lock.map { !$0.isLifted } ?? false
        let kind = new.kind ?? (locked ? .unlock : .jit)
        var duration: Int?
        switch kind {
        case .jit:
            if locked {
                throw RequestError(
                    .accessLocked,
                    "\(requester.email)'s access to \(resource.name) is locked for lack of use; request an unlock instead"
                )
            }
            let chosen = new.durationSeconds ?? resource.allowedDurations.first ?? Resource.defaultDurations[0]
            guard resource.allowedDurations.contains(chosen) else {
                let options = resource.allowedDurations.map { DurationText.format(seconds: $0) }.joined(separator: ", ")
                throw RequestError(
                    .durationNotAllowed,
                    "\(DurationText.format(seconds: chosen)) is not an allowed duration for \(resource.name) (allowed: \(options))"
                )
            }
            duration = chosen
        case .unlock:
            guard locked else {
                throw RequestError(.notLocked, "\(requester.email)'s access to \(resource.name) is not locked")
            }
            guard new.durationSeconds == nil else {
                throw RequestError(.durationNotApplicable, "an unlock request has no duration")
            }
        }
        return Accepted(kind: kind, durationSeconds: duration, reason: reason, expiresAt: now.addingTimeInterval(TimeInterval(resource.pendingTTL)))
    }
}
