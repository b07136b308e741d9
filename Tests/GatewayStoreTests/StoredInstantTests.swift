import Foundation
import GRDB
@testable import GatewayStore
import Testing

/// The SQLite store reads GRDB's text form of an instant by arithmetic: it must give exactly the
/// `Date` GRDB's own decoding gives, and leave every other form to GRDB.
@Suite struct StoredInstantTests {
    @Test("GRDB's text form of an instant reads to the very Date GRDB decodes, over centuries and every millisecond shape")
    func sameAsGRDB() throws {
        var generator = SystemRandomNumberGenerator()
        // 1900 to 2200, to the millisecond (enough that a last-bit difference in one instant of 50,000 shows), plus the edges of days, months, leap years and epochs.
        var instants = (0..<300_000).map { _ in
            Date(timeIntervalSince1970: Double(Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &generator)) / 1000)
        }
        instants += [0, -0.001, 0.999, 951_782_399.999, 951_782_400, 1_709_164_800, 978_307_200, 4_102_444_799.999, -2_208_988_800]
            .map(Date.init(timeIntervalSince1970:))
        // Instants where adding the fraction to the whole seconds since 2001 rounds differently.
        instants += ["2000-12-21 11:19:15.859"].compactMap { Date.fromDatabaseValue($0.databaseValue) }
        for instant in instants {
            let stored = instant.databaseValue
            guard case .string(let text) = stored.storage else {
                Issue.record("GRDB stored \(instant) as \(stored), not text")
                continue
            }
            let expected = try #require(Date.fromDatabaseValue(stored))
            let parsed = Array(text.utf8).withUnsafeBytes { StoredInstant.parse($0) }
            #expect(parsed == .instant(expected), "\(text)")
        }
    }

    @Test("An instant bound to a query is written as the very text GRDB's formatter writes, to the millisecond")
    func writesAsGRDB() throws {
        var generator = SystemRandomNumberGenerator()
        // Any double, not only whole milliseconds: the clock's instants carry microseconds and more.
        var instants = (0..<200_000).map { _ in
            Date(timeIntervalSince1970: Double.random(in: -2_208_988_800...7_258_118_400, using: &generator))
        }
        instants += (0..<50_000).map { _ in
            Date(timeIntervalSince1970: Double(Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &generator)) / 1000)
        }
        instants += [0, -0.001, -0.000_1, 0.999, 0.999_9, 0.999_999_9, 951_782_399.999_9, 951_782_400, 1_709_164_800, 978_307_200,
                     978_307_199.999_999, 4_102_444_799.999_9, 3_124_137_599.999_9, 817_696_984.567_500_1 + 978_307_200, Date.distantFuture.timeIntervalSince1970, -2_208_988_800, 1_796_004_184.567, 1_796_004_184.5675]
            .map(Date.init(timeIntervalSince1970:))
        instants += [Date(), Date(timeIntervalSinceReferenceDate: 0), Date(timeIntervalSinceReferenceDate: -0.000_000_1)]
        for instant in instants {
            guard case .string(let expected) = instant.databaseValue.storage else {
                Issue.record("GRDB stored \(instant) as \(instant.databaseValue), not text")
                continue
            }
            #expect(StoredInstant.text(instant) == expected, "\(instant.timeIntervalSinceReferenceDate)")
        }
        // Outside 1900 to 9999 GRDB's formatter writes the text (another calendar, more digits).
        for instant in [Date.distantPast, Date(timeIntervalSince1970: -2_208_988_800.001), Date(timeIntervalSince1970: 253_402_300_800)] {
            #expect(StoredInstant.text(instant) == nil)
            #expect(StoredInstant.value(instant) == instant.databaseValue)
        }
    }

    @Test("A row's instant: NULL is nil, other forms are read by GRDB")
    func otherForms() throws {
        let database = try DatabaseQueue()
        try database.read { db in
            let row = try #require(try Row.fetchOne(db, sql: """
                SELECT '2026-11-30 02:03:04.567' AS exact, NULL AS empty, '2026-11-30 02:03:04' AS seconds,
                       '2026-11-30T02:03:04.567Z' AS iso, 1800000000 AS number
                """))
            #expect(row.instant("exact") == (row["exact"] as Date?))
            let exact = try #require(row.instant("exact"))
            #expect(abs(exact.timeIntervalSince1970 - 1_796_004_184.567) < 0.000_001)
            #expect(row.instant("empty") == nil)
            #expect(row.instant("seconds") == (row["seconds"] as Date?) && row.instant("seconds") != nil)
            #expect(row.instant("iso") == (row["iso"] as Date?))
            #expect(row.instant("number") == Date(timeIntervalSince1970: 1_800_000_000))
            // By position, as the request list reads them.
            #expect(row.instant(atIndex: 0) == exact)
            #expect(row.instant(atIndex: 1) == nil)
            #expect(row.instant(atIndex: 3) == (row["iso"] as Date?))
        }
        // A cursor's row: the values are read from SQLite's own column text, and a number stays a number.
        try database.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT '2026-11-30 02:03:04.567' AS exact, NULL AS empty, '2026-11-30 02:03:04' AS seconds,
                       '2026-11-30T02:03:04.567Z' AS iso, 1800000000 AS number
                """)
            let row = try #require(try rows.next())
            #expect(row.instant(atIndex: 0) == (row[0] as Date?))
            #expect(abs(try #require(row.instant(atIndex: 0)).timeIntervalSince1970 - 1_796_004_184.567) < 0.000_001)
            #expect(row.instant(atIndex: 1) == nil)
            #expect(row.instant(atIndex: 2) == (row[2] as Date?) && row.instant(atIndex: 2) != nil)
            #expect(row.instant(atIndex: 3) == (row[3] as Date?))
            #expect(row.instant("number") == Date(timeIntervalSince1970: 1_800_000_000))
            #expect(row[4] as Int64 == 1_800_000_000)
        }
        let malformed = Array("2026-13-30 02:03:04.567".utf8).withUnsafeBytes { StoredInstant.parse($0) }
        #expect(malformed == .otherForm)
    }
}
