import Foundation
import GatewayApp
import GatewayCore
import Hummingbird

/// `/healthz` and the Prometheus `/metrics`.
struct OperationsController: Sendable {
    let web: WebApp

    /// Upper bounds of the decision-latency histogram, in seconds: a minute to a day.
    static let latencyBounds: [Double] = [60, 300, 900, 1_800, 3_600, 4 * 3_600, 8 * 3_600, 86_400]
    /// Reasons a link failed, as counted (LINK-10).
    static let linkFailureReasons = ["missing", "mismatch", "malformed", "unknown_key", "bad_signature", "wrong_purpose", "expired", "not_yet_valid", "unknown_request"]

    func addRoutes(to router: Router<WebContext>) {
        router.get("/healthz") { _, _ in
            try await web.service.checkHealth()
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: try await metricsText()))
            )
        }
    }

    /// The Prometheus text exposition of the gateway's counts.
    func metricsText() async throws -> String {
        let counts = try await web.service.counts(latencyBounds: Self.latencyBounds)
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
        }
        family("approval_gateway_requests", "gauge", "Access requests by state.")
        for state in RequestState.allCases {
            lines.append("approval_gateway_requests{state=\"\(state.rawValue)\"} \(counts.requestsByState[state] ?? 0)")
        }
        family("approval_gateway_emails_total", "counter", "Notification emails sent, failed, and bounced after sending.")
        lines.append("approval_gateway_emails_total{status=\"sent\"} \(counts.emailsByStatus[.sent] ?? 0)")
        lines.append("approval_gateway_emails_total{status=\"failed\"} \(counts.emailsByStatus[.failed] ?? 0)")
        lines.append("approval_gateway_emails_total{status=\"bounced\"} \(counts.emailsByStatus[.bounced] ?? 0)")
        family("approval_gateway_emails_queued", "gauge", "Notification emails waiting to be sent.")
        lines.append("approval_gateway_emails_queued \((counts.emailsByStatus[.pending] ?? 0) + (counts.emailsByStatus[.sending] ?? 0))")
        family("approval_gateway_inbox_messages_total", "counter", "Inbound messages handled, by outcome.")
        for outcome in [AuditOutcome.decided, .refused, .ignored, .rejected, .bounced] {
            lines.append("approval_gateway_inbox_messages_total{outcome=\"\(outcome.rawValue)\"} \(counts.inboundByOutcome[outcome] ?? 0)")
        }
        family("approval_gateway_decision_latency_seconds", "histogram", "Time from a request's creation to its decision.")
        for bucket in counts.decisionLatencyBuckets {
            lines.append("approval_gateway_decision_latency_seconds_bucket{le=\"\(Self.number(bucket.upperBound))\"} \(bucket.count)")
        }
        lines.append("approval_gateway_decision_latency_seconds_bucket{le=\"+Inf\"} \(counts.decisionLatencyCount)")
        lines.append("approval_gateway_decision_latency_seconds_sum \(Self.number(counts.decisionLatencySum))")
        lines.append("approval_gateway_decision_latency_seconds_count \(counts.decisionLatencyCount)")
        family("approval_gateway_link_failures_total", "counter", "Emailed links that did not verify, by reason (visitors see one page).")
        for reason in Self.linkFailureReasons {
            lines.append("approval_gateway_link_failures_total{reason=\"\(reason)\"} \(web.counters.value("\(WebCounters.linkFailure).\(reason)"))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func labelValue(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
