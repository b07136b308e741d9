import Foundation
import GatewayCore
import GatewayTemplates

/// One row of the request table: a request as a reviewer sees it, and what they may do with it.
struct RequestTableRow: Sendable {
    /// What the last cell offers the viewer.
    enum Action: Sendable {
        case none
        /// Under a quorum, the viewer already approved: they wait for another reviewer.
        case youApproved
        /// Approve and Deny, posting to `path` with a CSRF token, back to `returnTo`.
        case decide(path: String, csrf: String, returnTo: String, grantChoices: [GrantChoice])
        /// The requester's own open request: Cancel, posting to `path` with a CSRF token.
        case cancel(path: String, csrf: String)
    }

    /// A shorter grant a reviewer may choose (`value` empty for the time asked).
    struct GrantChoice: Sendable, Hashable {
        var value: String
        var label: String
    }

    var request: AccessRequest
    var requesterName: String
    var deciderName: String?
    var action: Action = .none
}

/// The request table of the Access Requests, user, resource and My requests pages, rendered in
/// code.
///
/// A page lists up to a page of requests with a dozen values and a form each. Rendered through the
/// template engine, the table was most of the page's CPU: every value is looked up by name through
/// the context stack with dynamic casts. Here each value is written once, HTML-escaped, in the same
/// markup the stylesheet and the browser tests know (`table.requests`, `tr[data-request]`,
/// `form.row-decide`).
enum RequestTable {
    /// The table of `rows`; without the Requester column on a requester's own list.
    static func html(_ rows: [RequestTableRow], showsRequester: Bool = true, now: Date) -> String {
        var out = HTMLWriter(capacity: 600 + rows.count * 900)
        out.raw("<table class=\"requests\">\n<thead><tr><th>#</th>", showsRequester ? "<th>Requester</th>" : "", "<th>Resource</th><th>Duration</th><th>Reason</th><th>Requested</th><th>Deadline</th><th>State</th><th></th></tr></thead>\n<tbody>\n")
        for row in rows { write(row, showsRequester: showsRequester, now: now, to: &out) }
        out.raw("</tbody>\n</table>\n")
        return out.text
    }

    private static func write(_ row: RequestTableRow, showsRequester: Bool, now: Date, to out: inout HTMLWriter) {
        let request = row.request
        let id = String(request.id)
        let state = WebFormat.displayState(request, now: now)
        out.raw("<tr data-request=\"", id, "\">\n  <td><a href=\"/requests/", id, "\">", id, "</a></td>\n  <td>")
        if showsRequester {
            out.text(row.requesterName)
            out.raw("<br><span class=\"muted\">")
            out.text(request.requester)
            out.raw("</span></td>\n  <td>")
        }
        out.text(request.resource)
        out.raw("</td>\n  <td>")
        out.text(request.kind == .unlock ? "unlock" : WebFormat.duration(request.durationSeconds))
        out.raw("</td>\n  <td class=\"reason\">")
        out.text(request.reason)
        out.raw("</td>\n  <td>")
        out.date(request.createdAt)
        out.raw("</td>\n  <td>")
        out.date(request.expiresAt)
        out.raw("</td>\n  <td><span class=\"state state-", state, "\">", state, "</span>")
        if let decision = request.decision {
            out.raw("<br><span class=\"muted\">by ")
            out.text(row.deciderName ?? decision.reviewer)
            out.raw("</span>")
        }
        if request.needsSeveralApprovals, request.state == .pending {
            out.raw("<br><span class=\"approvals\" title=\"approvals so far\">\(request.approvalCount) of \(request.approvalsRequired) approvals</span>")
        }
        if request.escalatedAt != nil { out.raw("<br><span class=\"muted\">escalated</span>") }
        out.raw("</td>\n  <td>")
        switch row.action {
        case .none:
            break
        case .youApproved:
            out.raw("<span class=\"you-approved\">You approved; waiting for another reviewer</span>")
        case .decide(let path, let csrf, let returnTo, let choices):
            out.raw("\n<form method=\"post\" action=\"")
            out.text(path)
            out.raw("\" class=\"row-decide\">\n  <input type=\"hidden\" name=\"csrf\" value=\"")
            out.text(csrf)
            out.raw("\">\n  <input type=\"hidden\" name=\"return_to\" value=\"")
            out.text(returnTo)
            out.raw("\">\n  <input name=\"comment\" placeholder=\"Comment (optional)\" maxlength=\"2000\" aria-label=\"Comment for request ", id, "\">\n  ")
            if !choices.isEmpty {
                out.raw("<select name=\"duration\" aria-label=\"How long to grant request ", id, "\">")
                for choice in choices {
                    out.raw("<option value=\"")
                    out.text(choice.value)
                    out.raw("\">")
                    out.text(choice.label)
                    out.raw("</option>")
                }
                out.raw("</select>")
            }
            out.raw("\n  <button type=\"submit\" name=\"action\" value=\"approve\" class=\"approve\">Approve</button>\n  <button type=\"submit\" name=\"action\" value=\"deny\" class=\"deny\">Deny</button>\n</form>\n")
        case .cancel(let path, let csrf):
            out.raw("<form method=\"post\" action=\"")
            out.text(path)
            out.raw("\"><input type=\"hidden\" name=\"csrf\" value=\"")
            out.text(csrf)
            out.raw("\"><button type=\"submit\" class=\"deny\">Cancel</button></form>")
        }
        out.raw("</td>\n</tr>\n")
    }
}

/// Builds HTML text: markup as given, text HTML-escaped (`&`, `<`, `>`, `"`, `'`), as the
/// template engine escapes it.
struct HTMLWriter {
    private var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends markup (or a value known to need no escaping) as it is.
    mutating func raw(_ part: String) {
        bytes.append(contentsOf: part.utf8)
    }

    /// Appends markup (or values known to need no escaping) as they are.
    mutating func raw(_ parts: String...) {
        for part in parts { bytes.append(contentsOf: part.utf8) }
    }

    /// Appends `value` HTML-escaped (``HTMLEscaping``).
    mutating func text(_ value: String) {
        HTMLEscaping.append(value, to: &bytes)
    }

    /// Appends `date` as ``WebFormat/date(_:)`` writes it (`2026-11-27 16:15 UTC`), without an
    /// intermediate string.
    mutating func date(_ date: Date) {
        let time = CivilTime(date)
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        if time.year >= 1_000, time.year <= 9_999 { digits(time.year, 4) } else { raw(String(time.year)) }
        bytes.append(UInt8(ascii: "-"))
        digits(time.month, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(time.day, 2)
        bytes.append(UInt8(ascii: " "))
        digits(time.hour, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(time.minute, 2)
        raw(" UTC")
    }

    /// `value` HTML-escaped.
    static func escape(_ value: String) -> String {
        var writer = HTMLWriter(capacity: value.utf8.count + 8)
        writer.text(value)
        return writer.text
    }
}
