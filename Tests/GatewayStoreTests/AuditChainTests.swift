import Foundation
import GatewayApp
import GatewayCore
import GRDB
@testable import GatewayStore
import GatewayTestSupport
import Testing

/// AUDIT-1 beyond the triggers: the audit log is a hash chain, so an edit made by someone who can
/// drop the triggers is still found, at the record it touched.
@Suite struct AuditChainTests {
    func busyGateway() async throws -> TestGateway {
        let gateway = try TestGateway(store: SQLiteStore(path: TestGateway.temporaryDatabasePath("gateway-audit")), clock: TestClock(Fixture.start))
        _ = try await gateway.syncDirectory(Fixture.directory, now: Fixture.start)
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver3@example.test", action: .approve, channel: .web), now: Fixture.start.addingTimeInterval(5))
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .reply), now: Fixture.start.addingTimeInterval(9))
        return gateway
    }

    @Test("AUDIT-1: every record links to the one before it, and the chain verifies")
    func chainVerifies() async throws {
        let gateway = try await busyGateway()
        let log = try await gateway.store.auditLog(requestID: nil)
        #expect(log.count >= 5)
        #expect(log.first?.previousHash == AuditChain.genesis)
        for (previous, entry) in zip(log, log.dropFirst()) { #expect(entry.previousHash == previous.hash) }
        let report = try await gateway.store.verifyAuditChain()
        #expect(report.firstBroken == nil && report.records == log.count)
    }

    @Test("AUDIT-1: the chain hashes an instant as the SQLite store writes it, so a copied log verifies on any backend")
    func instantTextMatchesStoredForm() {
        for seconds in [0.0, 1_800_000_000, 1_800_000_000.1234, 1_800_000_000.9996, 1_800_000_000.0005, 1_234_567_890.5, 1_798_761_599.9999] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(date.databaseValue.storage == .string(AuditChainHash.instantText(date)), "\(seconds)")
        }
    }

    @Test("AUDIT-1: an edited record is named, even with the triggers dropped")
    func editedRecordIsFound() async throws {
        let gateway = try await busyGateway()
        let victim = try #require(try await gateway.store.auditLog(requestID: nil).first { $0.action == .decide && $0.outcome == .accepted })
        try await gateway.sqlite.pool.write { db in
            try db.execute(sql: "DROP TRIGGER audit_log_no_update")
            try db.execute(sql: "UPDATE audit_log SET actor = 'admin@example.test' WHERE id = ?", arguments: [victim.id])
        }
        let report = try await gateway.store.verifyAuditChain()
        #expect(report.firstBroken?.id == victim.id)
        #expect(report.firstBroken?.problem.contains("edited") == true)
        #expect(report.records == Int(victim.id) - 1)
    }

    @Test("AUDIT-1: a removed record breaks the chain at the record after it")
    func removedRecordIsFound() async throws {
        let gateway = try await busyGateway()
        let log = try await gateway.store.auditLog(requestID: nil)
        let victim = log[2]
        try await gateway.sqlite.pool.write { db in
            try db.execute(sql: "DROP TRIGGER audit_log_no_delete")
            try db.execute(sql: "DELETE FROM audit_log WHERE id = ?", arguments: [victim.id])
        }
        let report = try await gateway.store.verifyAuditChain()
        #expect(report.firstBroken?.id == log[3].id)
        #expect(report.firstBroken?.problem.contains("removed") == true)
    }
}
