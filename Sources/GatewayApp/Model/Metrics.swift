import GatewayCore

/// One cumulative histogram bucket: how many observations were at most `upperBound`.
public struct HistogramBucket: Sendable, Hashable {
    public var upperBound: Double
    public var count: Int

    public init(upperBound: Double, count: Int) {
        self.upperBound = upperBound
        self.count = count
    }
}

/// Counts behind the `/metrics` endpoint, read in one transaction.
public struct GatewayCounts: Sendable, Hashable {
    /// Requests by state (every state is present, zero when none).
    public var requestsByState: [RequestState: Int]
    /// Outbox emails by status.
    public var emailsByStatus: [OutboxStatus: Int]
    /// Inbound messages handled by the inbox, by disposition.
    public var inboundByOutcome: [AuditOutcome: Int]
    /// Decision latency (from request creation to decision) in seconds, cumulative buckets.
    public var decisionLatencyBuckets: [HistogramBucket]
    public var decisionLatencyCount: Int
    public var decisionLatencySum: Double

    public init(
        requestsByState: [RequestState: Int], emailsByStatus: [OutboxStatus: Int], inboundByOutcome: [AuditOutcome: Int],
        decisionLatencyBuckets: [HistogramBucket], decisionLatencyCount: Int, decisionLatencySum: Double
    ) {
        self.requestsByState = requestsByState
        self.emailsByStatus = emailsByStatus
        self.inboundByOutcome = inboundByOutcome
        self.decisionLatencyBuckets = decisionLatencyBuckets
        self.decisionLatencyCount = decisionLatencyCount
        self.decisionLatencySum = decisionLatencySum
    }
}
