import Testing
@testable import GatewayCore

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("90s", 90), ("30m", 1800), ("1h", 3600), ("8h", 28_800), ("1d", 86_400), ("1h30m", 5400),
        ("2d12h", 216_000), (" 4H ", 14_400),
    ])
    func parses(text: String, seconds: Int) {
        #expect(DurationText.seconds(from: text) == seconds)
    }

    @Test(arguments: ["", "h", "1", "0h", "-1h", "1x", "1h1h", "30m1h", "1.5h", "1 h", "99999999999999999999d", "１h"])
    func rejects(text: String) {
        #expect(DurationText.seconds(from: text) == nil)
    }

    @Test(arguments: [1, 59, 60, 3600, 5400, 86_400, 90_061])
    func formatsAndParsesBack(seconds: Int) {
        #expect(DurationText.seconds(from: DurationText.format(seconds: seconds)) == seconds)
    }
}
