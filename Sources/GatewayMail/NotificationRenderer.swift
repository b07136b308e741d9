import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore

/// What the renderer needs to know beyond the templates.
public struct RenderSettings: Sendable {
    /// The URL links point to, without a trailing slash.
    public var publicURL: String
    /// The reply address pattern with `{key}`.
    public var replyAddress: String
    /// The gateway's address (`From` and envelope sender).
    public var fromAddress: String
    public var fromName: String

    public init(publicURL: String, replyAddress: String, fromAddress: String, fromName: String) {
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.replyAddress = replyAddress
        self.fromAddress = fromAddress
        self.fromName = fromName
    }

    /// The domain of the gateway's address, used in Message-IDs.
    var domain: String { fromAddress.split(separator: "@").last.map(String.init) ?? "localhost" }
}

/// A rendered email, ready for the outbox and SMTP.
public struct RenderedEmail: Sendable {
    /// The Message-ID without angle brackets.
    public var messageID: String
    public var raw: [UInt8]
    /// The envelope recipient.
    public var recipient: String
}

/// Turns an outbox entry into a complete email: template context, per-recipient signed links and
/// reply address, threading headers, and the MIME message.
public struct NotificationRenderer: Sendable {
    public let templates: EmailTemplates
    public let settings: RenderSettings
    public let signer: TokenSigner
    let store: any GatewayStorage

    public init(templates: EmailTemplates, settings: RenderSettings, signer: TokenSigner, store: any GatewayStorage) {
        self.templates = templates
        self.settings = settings
        self.signer = signer
        self.store = store
    }

    /// The root Message-ID every email of request `id` refers to, so that they form one thread.
    public static func threadRoot(requestID: Int64, installation: String, domain: String) -> String {
        "request-\(requestID).\(installation)@\(domain)"
    }

    /// Renders `entry` at `now`, reading what it needs from the database.
    /// - Throws: ``NotificationError`` when the request or a person is gone, or a template fails.
    public func render(_ entry: OutboxEntry, now: Date) async throws -> RenderedEmail {
        try render(entry, facts: try await RenderFacts.read(for: [entry], from: store), now: now)
    }

    /// Renders `entry` at `now` from `facts` (read for a batch with ``RenderFacts/read(for:from:)``);
    /// no I/O.
    /// - Throws: ``NotificationError`` when the request is not among the facts, or a template fails.
    public func render(_ entry: OutboxEntry, facts: RenderFacts, now: Date) throws -> RenderedEmail {
        let installation = facts.installation
        let recipientUser = facts.user(entry.recipient)
        var context: [String: Any] = [
            "recipient_email": entry.recipient,
            "recipient_name": recipientUser?.name ?? entry.recipient,
        ]
        var subjectRoot = "approval-gateway"
        var references: [String] = []
        var replyTo: ComposedMailbox?

        if let requestID = entry.requestID {
            guard let request = facts.requests[requestID] else {
                throw NotificationError("request \(requestID) no longer exists")
            }
            let resource = facts.resources[request.resource]
            let requester = facts.user(request.requester)
            context.merge(Self.requestContext(request, requester: requester, resource: resource)) { _, new in new }
            // The grant as given: a reviewer may have granted less time than was asked.
            if let ends = entry.context["grant_ends_at"].flatMap(RFC3339.date(from:)) { context["grant_until"] = Self.humanDate(ends) }
            if let granted = entry.context["granted_seconds"].flatMap(Int.init), let asked = request.durationSeconds, granted < asked {
                context["granted_less"] = DurationText.spelledOut(seconds: granted)
            }
            if let decision = request.decision, let reviewer = facts.user(decision.reviewer) {
                context["decided_by_name"] = reviewer.name
            }
            subjectRoot = "[Access request #\(request.id)] \(requester?.name ?? request.requester) requests \(request.resource)"
                + (request.kind == .jit ? " for \(Self.compactDuration(request.durationSeconds))" : " (unlock)")
            context["thread_subject"] = subjectRoot
            references = [Self.threadRoot(requestID: request.id, installation: installation, domain: settings.domain)]
            context["for_requester"] = entry.recipient == EmailAddress.normalize(request.requester)

            // Links and the reply address are personal: they name the recipient, who must still have
            // the right to decide when they are used.
            if NotificationKind.decisionInvitations.contains(entry.kind), !(context["for_requester"] as? Bool ?? false) {
                let expiry = request.expiresAt
                func link(_ purpose: TokenPurpose, _ path: String, action: String? = nil) -> String {
                    let token = signer.sign(TokenClaims(purpose: purpose, requestID: request.id, subject: entry.recipient, action: action, issuedAt: now, expiresAt: expiry))
                    return "\(settings.publicURL)/\(path)/\(token)"
                }
                context["review_url"] = link(.review, "review")
                context["approve_url"] = link(.decide, "decide", action: "approve")
                context["deny_url"] = link(.decide, "decide", action: "deny")
                if resource?.linkCodeRequired == true {
                    context["link_code"] = LinkCode.code(requestID: request.id, reviewer: entry.recipient, ring: signer.keyRing)
                }
                if request.state == .pending, let reviewerID = facts.userIDs[EmailAddress.normalize(entry.recipient)] {
                    let key = try ReplyKey(requestID: request.id, reviewerID: reviewerID, expiresAt: expiry).encoded(with: signer.keyRing)
                    replyTo = Composer.mailbox(settings.replyAddress.replacingOccurrences(of: "{key}", with: key), name: settings.fromName)
                }
            }
        }
        if entry.reason.hasPrefix("group:") {
            context["reason_for_recipient"] = "as a member of \(entry.reason.dropFirst(6))"
        } else if entry.reason.hasPrefix("role:") {
            context["reason_for_recipient"] = "as \(entry.reason.dropFirst(5))"
        } else if entry.reason.hasPrefix("escalation:") {
            context["reason_for_recipient"] = "as a member of the escalation group \(entry.reason.dropFirst(11))"
        }
        for (key, value) in entry.context where !["grant_ends_at", "granted_seconds"].contains(key) { context[key] = value }
        addApprovalContext(entry, facts: facts, into: &context)
        if let code = entry.context["refusal_code"] {
            context["refusal"] = ReplyRefusalText.explain(code, context: entry.context, resource: context["resource"] as? String)
        }
        if let expires = entry.context["link_expires"].flatMap(RFC3339.date(from:)) { context["link_expires"] = Self.humanDate(expires) }
        if let ended = entry.context["ended_at"].flatMap(RFC3339.date(from:)) { context["ended_at"] = Self.humanDate(ended) }
        if entry.kind == .signIn {
            // Signed now, never stored (the outbox keeps only the expiry): LINK-7, secrets at rest.
            guard let expires = entry.context["link_expires"].flatMap(RFC3339.date(from:)) else {
                throw NotificationError("sign-in email \(entry.id) has no expiry")
            }
            let token = signer.sign(TokenClaims(
                purpose: .login, requestID: entry.requestID, subject: entry.recipient, action: entry.context["action"],
                issuedAt: now, expiresAt: expires
            ))
            context["login_url"] = "\(settings.publicURL)/login/\(token)"
        }

        let subject = try templates.render(entry.kind, part: "subject", context: context)
            .split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        let text = try templates.render(entry.kind, part: "text", context: context)
        let html = try templates.render(entry.kind, part: "html", context: context.merging(["subject": subject]) { _, new in new })

        guard let from = Composer.mailbox(settings.fromAddress, name: settings.fromName),
              let to = Composer.mailbox(entry.recipient, name: recipientUser?.name) else {
            throw NotificationError("cannot address an email from \(settings.fromAddress) to \(entry.recipient)")
        }
        var random = SystemRandomNumberGenerator()
        // 128 random bits: replies that lost their reply address are matched through this id.
        let messageID = "ag.\(entry.id).\(String(random.next(), radix: 36))\(String(random.next(), radix: 36))@\(settings.domain)"
        var message = ComposedMessage(from: from, to: [to], subject: subject, text: text, html: html, date: Int64(now.timeIntervalSince1970))
        message.messageID = messageID
        message.replyTo = replyTo
        message.references = references
        message.inReplyTo = entry.kind == .newRequest ? nil : references.first
        message.autoSubmitted = [.replyConfirmation, .replyRefusal].contains(entry.kind) ? .autoReplied : .autoGenerated
        message.gatewayMarker = installation
        return RenderedEmail(messageID: messageID, raw: try Composer.serialize(message), recipient: entry.recipient)
    }

    /// The words of a quorum and of an escalation: who approved, how many more are needed,
    /// whether the recipient already approved, after how long the request was escalated.
    func addApprovalContext(_ entry: OutboxEntry, facts: RenderFacts, into context: inout [String: Any]) {
        func name(_ email: String) -> String { facts.user(email)?.name ?? email }
        if let approver = entry.context["approved_by"] { context["approved_by_name"] = name(approver) }
        if let counted = entry.context["approvals"].flatMap(Int.init), let required = entry.context["approvals_required"].flatMap(Int.init) {
            let remaining = max(required - counted, 1)
            context["approvals_remaining"] = String(remaining)
            context["remaining_plural"] = remaining == 1 ? "" : "s"
        }
        if let so = entry.context["approvers_so_far"] {
            context["recipient_approved"] = so.split(separator: ",").contains { $0 == Substring(entry.recipient) }
        }
        if let approvers = entry.context["approvers"] {
            context["approvers_names"] = Self.spokenList(RenderFacts.addresses(in: approvers).map(name))
            context["granted_by"] = "The reviewers"
        } else if let decider = context["decided_by_name"] {
            context["granted_by"] = decider
        }
        if let seconds = entry.context["escalate_after_seconds"].flatMap(Int.init) {
            context["escalated_after"] = DurationText.spelledOut(seconds: seconds)
        }
    }

    /// `A`, `A and B`, `A, B and C`.
    static func spokenList(_ items: [String]) -> String {
        guard items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " and " + items.last!
    }

    static func requestContext(_ request: AccessRequest, requester: User?, resource: Resource?) -> [String: Any] {
        var context: [String: Any] = [
            "request_id": String(request.id),
            "requester_email": request.requester,
            "requester_name": requester?.name ?? request.requester,
            "resource": request.resource,
            "reason": request.reason,
            "is_unlock": request.kind == .unlock,
            "duration": longDuration(request.durationSeconds),
            "deadline": humanDate(request.expiresAt),
            "reply_enabled": resource?.replyDecisionsEnabled ?? true,
        ]
        if let decision = request.decision {
            context["outcome"] = decision.action == .approve ? "approved" : "denied"
            context["decided_by"] = decision.reviewer
            context["decided_by_name"] = decision.reviewer
            if let comment = decision.comment { context["comment"] = comment }
            if decision.action == .approve, request.kind == .jit, let seconds = request.durationSeconds {
                context["grant_until"] = humanDate(decision.decidedAt.addingTimeInterval(TimeInterval(seconds)))
            }
        }
        return context
    }

    /// `4h`, `30m`, `1d`.
    static func compactDuration(_ seconds: Int?) -> String {
        seconds.map { DurationText.format(seconds: $0) } ?? "-"
    }

    /// `4 hours`, `1 hour 30 minutes`, `1 day`.
    static func longDuration(_ seconds: Int?) -> String {
        DurationText.spelledOut(seconds: seconds)
    }

    /// `Sat, 28 Nov 2026 16:15 UTC`: unambiguous for readers in every time zone.
    static func humanDate(_ date: Date) -> String {
        let c = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[c.weekday! - 1]), \(c.day!) \(months[c.month! - 1]) \(c.year!) \(two(c.hour!)):\(two(c.minute!)) UTC"
    }

    private static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
