using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;
using LlmKit.ModelBuilder;
using LlmKit.Samples.AspNetApi;
using LlmKit.Testing;
using LlmKit.Samples.AspNetApi.Serving;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmKit.AspNetApi.Tests;

/// <summary>Queueing, 429 and client disconnects, each against its own app instance.</summary>
public sealed class ProductionBehaviourTests(ITestOutputHelper output)
{
    /// <summary>512 wide, 8 layers, a 32,000-token vocabulary: about 50M parameters, so a few hundred tokens per second at most.</summary>
    private static readonly LlamaConfig SlowModel = new(Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KvHeads: 8, VocabSize: 32000, SeqLen: 1024);

    private const string LongStream = """{"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":500,"stream":true}""";

    [Fact]
    public async Task ClientDisconnectingMidStreamStopsTheGenerationWithinOneToken()
    {
        // stories260K streams its 500 tokens in about 0.1 s on an idle machine, often before the hang-up reaches the
        // server. A synthetic 50M-parameter model (random weights) decodes a few hundred tokens per second at most, so
        // the server is mid-stream when the client leaves.
        await using var app = await RunningApp.StartAsync(new Dictionary<string, string?>
        {
            ["LlmKit:ModelPath"] = TestModels.Synthetic(SlowModel, seed: 15),
            ["LlmKit:ModelId"] = "synthetic-50M",
        });
        using var meter = new GenerationMeter();

        // On a loaded machine the server may still only notice the hang-up after the stream has finished. Such a run
        // proves nothing either way, so try up to three times; every run in which the server noticed the disconnect
        // must satisfy the assertions below.
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            meter.Ended.Clear();
            int logsBefore = app.Logs.Lines.Count(l => l.Id.Id == 103);
            await ReadTwoEventsAndHangUpAsync(app);

            var ended = await WaitForAsync(() => meter.Ended.TryPeek(out var e) ? e : ((string, long)?)null);
            if (ended.Item1 == "MaxNewTokens")
            {
                output.WriteLine($"attempt {attempt}: the stream finished before the server saw the disconnect");
                continue;
            }

            var atDisconnect = await WaitForAsync(() => app.Logs.Lines.Where(l => l.Id.Id == 103).Skip(logsBefore)
                .Select(l => (int?)Convert.ToInt32(l.State.First(kv => kv.Key == "GeneratedTokens").Value, System.Globalization.CultureInfo.InvariantCulture))
                .FirstOrDefault());
            output.WriteLine($"attempt {attempt}: disconnect seen at {atDisconnect} tokens; generation ended '{ended.Item1}' after {ended.Item2} tokens");

            // "cancelled": the runtime saw the token before a step; "abandoned": the SSE write saw it first and the stream was disposed.
            Assert.True(ended.Item1 is "cancelled" or "abandoned", $"finish reason {ended.Item1} after {ended.Item2} tokens");
            Assert.True(ended.Item2 < 500, $"the generation should have stopped early, but made {ended.Item2} tokens");

            // The runtime checks the token before every step: at most the step in flight completes after the disconnect.
            Assert.InRange(ended.Item2 - atDisconnect, 0, 1);
            Assert.Contains(app.Logs.Lines, l => l.Id.Id == 104);
            return;
        }

        Assert.Fail("In three attempts the server never saw the disconnect before the 500-token stream ended.");
    }

    private static async Task ReadTwoEventsAndHangUpAsync(RunningApp app)
    {
        // No draining: disposing an unfinished response must close the connection, as a killed client would.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = app.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(LongStream, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        int events = 0;
        while (events < 2 && await reader.ReadLineAsync() is { } line)
        {
            events += line.StartsWith("data: ", StringComparison.Ordinal) ? 1 : 0;
        }
    }

    [Fact]
    public async Task FullQueueGets429WithRetryAfterAndAnOpenAIErrorBody()
    {
        await using var app = await RunningApp.StartAsync(new Dictionary<string, string?>
        {
            ["Server:MaxConcurrentGenerations"] = "1",
            ["Server:MaxQueuedRequests"] = "0",
        });

        // Hold the only slot as a running generation would (taking it through the app's own queue keeps the test
        // independent of how fast the machine generates).
        using var held = await app.Services.GetRequiredService<GenerationQueue>().TryEnterAsync(default);
        Assert.NotNull(held);

        using var refused = await app.Http.PostAsync(new Uri("v1/chat/completions", UriKind.Relative),
            new StringContent("""{"messages":[{"role":"user","content":"Once"}],"max_tokens":4}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        RetryConditionHeaderValue? retryAfter = refused.Headers.RetryAfter;
        Assert.NotNull(retryAfter?.Delta);
        Assert.InRange(retryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        using var json = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        var error = json.RootElement.GetProperty("error");
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.Contains("Retry-After", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        // Once the slot is free the same request succeeds.
        held!.Dispose();
        using var admitted = await app.Http.PostAsync(new Uri("v1/chat/completions", UriKind.Relative),
            new StringContent("""{"messages":[{"role":"user","content":"Once"}],"max_tokens":4}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
    }

    [Fact]
    public async Task QueueAdmitsConcurrencyPlusQueueLengthAndRefusesTheRest()
    {
        using var queue = new GenerationQueue(Options.Create(new ServerOptions { MaxConcurrentGenerations = 2, MaxQueuedRequests = 3 }));
        var running = new[] { await queue.TryEnterAsync(default), await queue.TryEnterAsync(default) };
        Assert.All(running, Assert.NotNull);

        var waiting = Enumerable.Range(0, 3).Select(_ => queue.TryEnterAsync(default).AsTask()).ToArray();
        Assert.All(waiting, t => Assert.False(t.IsCompleted));
        Assert.Equal(3, queue.QueuedCount);
        Assert.Null(await queue.TryEnterAsync(default));

        // A waiter whose client leaves gives its place back.
        using var gone = new CancellationTokenSource();
        running[0]!.Dispose();
        var first = await waiting[0];
        Assert.NotNull(first);
        var late = queue.TryEnterAsync(gone.Token).AsTask();
        Assert.False(late.IsCompleted);
        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => late);
        Assert.Equal(2, queue.QueuedCount);

        first!.Dispose();
        running[1]!.Dispose();
        foreach (var slot in await Task.WhenAll(waiting[1], waiting[2]))
        {
            Assert.NotNull(slot);
            slot!.Dispose();
        }

        Assert.Equal(0, queue.QueuedCount);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(65, 0)]
    [InlineData(1, -1)]
    public void InvalidServerOptionsNameTheSetting(int concurrency, int queued)
    {
        var options = new ServerOptions { MaxConcurrentGenerations = concurrency, MaxQueuedRequests = queued };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Contains(concurrency is < 1 or > 64 ? "MaxConcurrentGenerations" : "MaxQueuedRequests", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AppWithoutAModelPathFailsAtBuildNamingTheSetting()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => AspNetApiApp.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Logging.ClearProviders();
        }));
        Assert.Contains("LlmKit:ModelPath is required", ex.Message, StringComparison.Ordinal);
    }

    private static async Task<T> WaitForAsync<T>(Func<T?> probe)
        where T : struct
    {
        // The server notices the hang-up asynchronously; 5 s is far above the few milliseconds it takes on loopback.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } value)
            {
                return value;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException("The server did not report the disconnect within 5 s.");
    }
}
