import Foundation
import GatewayCore
import Testing

/// The civil-day arithmetic against Foundation's Gregorian calendar, and both directions against
/// each other.
@Suite struct CivilDayTests {
    @Test("Every day from 1900 to 2200 matches the Gregorian calendar, and converts back to its count")
    func matchesCalendar() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        // 1900-01-01 is day -25,567; 2200-01-01 is day 83,966.
        for days in stride(from: -25_567, through: 83_966, by: 1) {
            let civil = CivilDay(daysSince1970: days)
            #expect(civil.daysSince1970 == days)
            if days % 97 == 0 || (civil.month == 2 && civil.day >= 28) || (civil.month == 3 && civil.day == 1) {
                let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(days) * 86_400))
                #expect(parts.year == civil.year && parts.month == civil.month && parts.day == civil.day, "day \(days)")
            }
        }
        #expect(CivilDay(daysSince1970: 0) == CivilDay(year: 1970, month: 1, day: 1))
        #expect(CivilDay(daysSince1970: -1) == CivilDay(year: 1969, month: 12, day: 31))
        #expect(CivilDay(year: 2000, month: 2, day: 29).daysSince1970 == 11_016)
    }
}
