using System.ClientModel;
using System.Collections.Concurrent;
using LlmKit.Samples.AspNetApi;
using LlmKit.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;

namespace LlmKit.AspNetApi.Tests;

/// <summary>
/// The real sample app listening on 127.0.0.1 with an ephemeral port, serving stories260K with the raw ("None")
/// chat template, its log lines captured. Dispose stops it.
/// </summary>
public sealed class RunningApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunningApp(WebApplication app, Uri baseAddress, CapturingLoggerProvider logs)
    {
        _app = app;
        BaseAddress = baseAddress;
        Logs = logs;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The settings every test app shares: the model and its raw template, greedy by default.</summary>
    public static IReadOnlyDictionary<string, string?> ModelSettings { get; } = new Dictionary<string, string?>
    {
        ["LlmKit:ModelPath"] = TestModels.Stories260KFolder,
        ["LlmKit:ModelId"] = "stories260K",
        ["LlmKit:ChatTemplate"] = "None",
        ["LlmKit:IntraOpThreads"] = "1",
    };

    /// <summary>http://127.0.0.1:PORT/.</summary>
    public Uri BaseAddress { get; }

    /// <summary>A plain HTTP client for the app.</summary>
    public HttpClient Http { get; }

    /// <summary>The app's log lines.</summary>
    public CapturingLoggerProvider Logs { get; }

    /// <summary>The app's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Starts an app with <see cref="ModelSettings"/> plus <paramref name="settings"/>.</summary>
    public static async Task<RunningApp> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var logs = new CapturingLoggerProvider();
        var app = AspNetApiApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            // Only this test's settings: the sample's appsettings.json (moderation examples etc.) stays out.
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(ModelSettings);
            builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            builder.Logging.AddProvider(logs);
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new RunningApp(app, new Uri(address.TrimEnd('/') + "/"), logs);
    }

    /// <summary>The official OpenAI client pointed at the app, seen through M.E.AI. Retries are off so a 429 surfaces.</summary>
    public IChatClient OpenAIChatClient(string model = "stories260K") =>
        new OpenAI.Chat.ChatClient(model, new ApiKeyCredential("not-needed"), ClientOptions()).AsIChatClient();

    /// <summary>Options for the official OpenAI client: this app's /v1 endpoint, no retries.</summary>
    public OpenAIClientOptions ClientOptions() => new()
    {
        Endpoint = new Uri(BaseAddress, "v1"),
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
        NetworkTimeout = TimeSpan.FromSeconds(30),
    };

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Keeps every formatted log line (with its event id, level and exception) for assertions.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<(EventId Id, string Category, IReadOnlyList<KeyValuePair<string, object?>> State, string Message, LogLevel Level, Exception? Exception)> _lines = new();

    /// <summary>The lines so far.</summary>
    public IReadOnlyCollection<(EventId Id, string Category, IReadOnlyList<KeyValuePair<string, object?>> State, string Message, LogLevel Level, Exception? Exception)> Lines => _lines;

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // Copy the values now: some framework states read the HttpContext lazily, which is gone by assertion time.
            var values = state is IReadOnlyList<KeyValuePair<string, object?>> list
                ? list.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value?.ToString())).ToList()
                : [];
            owner._lines.Enqueue((eventId, category, values, formatter(state, exception), logLevel, exception));
        }
    }
}
