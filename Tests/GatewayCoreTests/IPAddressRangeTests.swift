import GatewayCore
import Testing

@Suite struct IPAddressRangeTests {
    @Test("Addresses and CIDR blocks, IPv4 and IPv6, parse and match")
    func matching() throws {
        let private10 = try #require(IPAddressRange("10.0.0.0/8"))
        #expect(private10.contains("10.200.3.4") && !private10.contains("11.0.0.1"))
        #expect(private10.contains("::ffff:10.1.2.3"))
        let single = try #require(IPAddressRange("127.0.0.1"))
        #expect(single.contains("127.0.0.1") && !single.contains("127.0.0.2"))
        let v6 = try #require(IPAddressRange("2001:db8::/32"))
        #expect(v6.contains("2001:db8:1::5") && !v6.contains("2001:db9::1") && !v6.contains("10.0.0.1"))
        #expect(try #require(IPAddressRange("::1")).contains("::1"))
        #expect(try #require(IPAddressRange("fe80::1%eth0")).contains("fe80::1"))
        #expect(try #require(IPAddressRange("0.0.0.0/0")).contains("203.0.113.9"))
        #expect(try #require(IPAddressRange("192.168.1.77/24")).network == [192, 168, 1, 0])
    }

    @Test("Anything else is refused", arguments: ["", "10.0.0", "10.0.0.256", "10.0.0.1/33", "1::2::3", "gateway.example", "10.0.0.0/x", "::1/129", "1.2.3.4/-1"])
    func refused(text: String) {
        #expect(IPAddressRange(text) == nil)
    }
}
