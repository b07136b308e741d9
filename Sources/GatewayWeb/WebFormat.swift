import Foundation
import GatewayCore

/// How pages show times, durations and requests.
enum WebFormat {
    /// `2026-11-27 16:15 UTC`.
    static func date(_ date: Date) -> String {
        let time = CivilTime(date)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(time.year)-\(two(time.month))-\(two(time.day)) \(two(time.hour)):\(two(time.minute)) UTC"
    }

    /// `4 hours`, `1 hour 30 minutes`.
    static func duration(_ seconds: Int?) -> String {
        DurationText.spelledOut(seconds: seconds)
    }

    /// The template values of one request.
    static func request(_ request: AccessRequest, names: [String: String] = [:], now: Date) -> [String: Any] {
        var context: [String: Any] = [
            "id": String(request.id),
            "kind": request.kind.rawValue,
            "is_unlock": request.kind == .unlock,
            "requester": request.requester,
            "requester_name": names[request.requester] ?? request.requester,
            "resource": request.resource,
            "reason": request.reason,
            "duration": request.kind == .unlock ? "unlock" : duration(request.durationSeconds),
            "created": date(request.createdAt),
            "deadline": date(request.expiresAt),
            "state": displayState(request, now: now),
            "state_class": "state-" + displayState(request, now: now),
            "is_open": request.isOpen(at: now),
            // Every key the row templates test is present (false when it does not apply): a missing
            // key is looked for in every enclosing context, which made lookups the page's main cost.
            "decided_by": false, "approvals_label": false, "escalated_at": false,
        ]
        if let decision = request.decision {
            context["decided_by"] = decision.reviewer
            context["decided_by_name"] = names[decision.reviewer] ?? decision.reviewer
            context["decided_at"] = date(decision.decidedAt)
            context["channel"] = decision.channel.rawValue
            if let comment = decision.comment { context["comment"] = comment }
        } else if let resolved = request.resolvedAt {
            context["resolved_at"] = date(resolved)
        }
        // "1 of 2": absent for a request that one approval decides.
        if request.needsSeveralApprovals, request.state == .pending {
            context["approvals_label"] = "\(request.approvalCount) of \(request.approvalsRequired)"
        }
        if let escalated = request.escalatedAt { context["escalated_at"] = date(escalated) }
        return context
    }

    /// A pending request past its deadline shows as expired even before the sweep records it.
    static func displayState(_ request: AccessRequest, now: Date) -> String {
        request.state == .pending && now >= request.expiresAt ? "expired" : request.state.rawValue
    }
}

/// A instant's date and time of day in UTC, on the proleptic Gregorian calendar, by plain
/// arithmetic: building a `Calendar` per value was most of a page's rendering time.
struct CivilTime: Hashable {
    var year: Int64
    var month: Int64
    var day: Int64
    var hour: Int64
    var minute: Int64

    init(_ date: Date) {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let civil = CivilDay(daysSince1970: Int(days))
        year = Int64(civil.year)
        month = Int64(civil.month)
        day = Int64(civil.day)
        hour = secondOfDay / 3_600
        minute = secondOfDay % 3_600 / 60
    }
}
