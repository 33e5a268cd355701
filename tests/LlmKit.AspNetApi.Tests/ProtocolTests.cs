using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace LlmKit.AspNetApi.Tests;

/// <summary>HTTP-level answers: 405 with Allow for a wrong method, 408 for a body that stops arriving.</summary>
[Collection(SharedAppCollection.Name)]
public sealed class ProtocolTests(SharedApp shared)
{
    [Theory]
    [InlineData("GET", "v1/chat/completions", "POST")]
    [InlineData("PUT", "v1/chat/completions", "POST")]
    [InlineData("DELETE", "v1/chat/completions", "POST")]
    [InlineData("GET", "v1/compressions", "POST")]
    [InlineData("POST", "v1/models", "GET")]
    public async Task AWrongMethodOnAKnownPathGets405WithAllow(string method, string path, string allowed)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await shared.App.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal([allowed], response.Content.Headers.Allow);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = json.RootElement.GetProperty("error");
        Assert.Equal("method_not_allowed", error.GetProperty("code").GetString());
        Assert.Contains($"{allowed} /{path}", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStalledBodyGets408LoggedAtInformationWithoutAStackTrace()
    {
        int linesBefore = shared.App.Logs.Lines.Count;

        // Announce 1,000 bytes, send 12, then stall. Kestrel's minimum body data rate (240 bytes/s after a 5 s grace
        // period) ends the wait; the app must answer that as a timeout, not as a server error.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, shared.App.BaseAddress.Port);
        var stream = tcp.GetStream();
        string head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{shared.App.BaseAddress.Port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head + """{"messages":"""));
        await stream.FlushAsync();

        // A hang guard only (the answer comes after about 5 s): never an assertion on time.
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string statusLine = await ReadStatusLineAsync(stream, guard.Token);
        Assert.StartsWith("HTTP/1.1 408", statusLine, StringComparison.Ordinal);

        var lines = shared.App.Logs.Lines.Skip(linesBefore).ToList();
        Assert.DoesNotContain(lines, l => l.Level >= LogLevel.Warning);
        Assert.DoesNotContain(lines, l => l.Exception is not null);
        Assert.Contains(lines, l => l.Level == LogLevel.Information && l.Message.Contains("408", StringComparison.Ordinal));
    }

    private static async Task<string> ReadStatusLineAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (await stream.ReadAsync(one, cancellationToken) == 1 && one[0] != (byte)'\n')
        {
            line.Append((char)one[0]);
        }

        return line.ToString().TrimEnd('\r');
    }
}
