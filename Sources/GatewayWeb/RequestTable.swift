import Foundation
import GatewayCore

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
        out.raw("</td>\n  <td>", WebFormat.date(request.createdAt), "</td>\n  <td>", WebFormat.date(request.expiresAt), "</td>\n  <td><span class=\"state state-", state, "\">", state, "</span>")
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

    /// Appends markup (or values known to need no escaping) as it is.
    mutating func raw(_ parts: String...) {
        for part in parts { bytes.append(contentsOf: part.utf8) }
    }

    /// Appends `value` HTML-escaped.
    mutating func text(_ value: String) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): bytes.append(contentsOf: "&#39;".utf8)
            default: bytes.append(byte)
            }
        }
    }

    /// `value` HTML-escaped.
    static func escape(_ value: String) -> String {
        var writer = HTMLWriter(capacity: value.utf8.count + 8)
        writer.text(value)
        return writer.text
    }
}
