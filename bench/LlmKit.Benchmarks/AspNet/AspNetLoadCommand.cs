using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using LlmKit.Benchmarks.Runtime;
using LlmKit.ModelBuilder;
using OpenAI;
using OpenAI.Chat;

namespace LlmKit.Benchmarks.AspNet;

/// <summary>
/// Load test of the AspNetApi sample, started as a child process (the benchmark does not reference the web project)
/// on 127.0.0.1 and driven by the official OpenAI client with retries off:
/// (1) burst: N concurrent clients x M requests, each must end in 200 or 429 (none lost, no 5xx), with p50/p95 latency
/// and throughput; (2) soak: a warm-up of W requests, then K more from a few clients, the server's resident memory
/// sampled at the end of the warm-up and at the end (growth must stay under 10%). The warm-up is long because the
/// server's RSS keeps rising for the first ~1,300 requests (Server GC with dynamic heap count, JIT tiering, ORT's
/// arena) and then stays flat; measuring from request 100 would charge that warm-up to the soak. Short greedy generations on stories260K. Bounded by --timeout.
/// </summary>
internal sealed class AspNetLoadCommand : IBenchCommand
{
    public string Name => "aspnet-load";

    public string Summary => "OpenAI-compatible API under load (child process): [--clients 64] [--requests 20] [--soak 1000] [--soak-clients 4] [--warmup 1000] [--max-tokens 16] [--concurrency 2] [--queue 32] [--form standard|ortgenai] [--max-batch 8] [--timeout 300]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var settings = new LoadSettings(
            Clients: Int(args, "--clients", 64),
            RequestsPerClient: Int(args, "--requests", 20),
            SoakRequests: Int(args, "--soak", 1000),
            SoakClients: Int(args, "--soak-clients", 4),
            WarmupRequests: Int(args, "--warmup", 1000),
            MaxTokens: Int(args, "--max-tokens", 16),
            Concurrency: Int(args, "--concurrency", 2),
            Queue: Int(args, "--queue", 32),
            MaxBatchSize: Int(args, "--max-batch", 8));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(Int(args, "--timeout", 300)));

        // Batching (LlmKit:MaxBatchSize) applies to the official GQA form only; the Standard form runs each request alone.
        var form = Array.IndexOf(args, "--form") is int f and >= 0 && f + 1 < args.Length && args[f + 1] == "ortgenai" ? OnnxGraphForm.OrtGenAI : OnnxGraphForm.Standard;
        string model = BenchModels.Stories260K(form);
        string app = await LocateAppAsync(timeout.Token);
        int port = FreePort();
        using var server = StartServer(app, model, port, settings);
        try
        {
            var endpoint = new Uri($"http://127.0.0.1:{port}/");
            await WaitHealthyAsync(endpoint, server, timeout.Token);
            var client = new ChatClient("stories260K", new ApiKeyCredential("not-needed"), new OpenAIClientOptions
            {
                Endpoint = new Uri(endpoint, "v1"),
                RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // a 429 must reach the counts, not be retried away
                NetworkTimeout = TimeSpan.FromSeconds(60),
            });

            Console.WriteLine($"server pid {server.Id} on {endpoint}; model {model}; {Environment.ProcessorCount} cores");
            Console.WriteLine($"server settings: MaxConcurrentGenerations {settings.Concurrency}, MaxQueuedRequests {settings.Queue}, form {form}, LlmKit:MaxBatchSize {settings.MaxBatchSize}{(form == OnnxGraphForm.Standard ? " (no effect on this form)" : "")}; requests: greedy, max_tokens {settings.MaxTokens}");
            Console.WriteLine();

            var burst = await RunBurstAsync(client, settings, timeout.Token);
            Console.WriteLine($"## Burst: {settings.Clients} concurrent clients x {settings.RequestsPerClient} requests");
            burst.Print();

            var soak = await RunSoakAsync(client, server, settings, timeout.Token);
            Console.WriteLine();
            Console.WriteLine($"## Soak: {settings.WarmupRequests} warm-up + {settings.SoakRequests} measured requests from {settings.SoakClients} clients (RSS at the end of the warm-up vs at the end)");
            soak.Print();

            bool ok = burst.Lost == 0 && burst.ServerErrors == 0 && burst.Ok > 0
                && soak.Result.Lost == 0 && soak.Result.ServerErrors == 0 && soak.GrowthPercent < 10;
            Console.WriteLine();
            Console.WriteLine(ok ? "PASS: every request ended in 200 or 429, no 5xx, none lost; RSS growth under 10%." : "FAIL: see the figures above.");
            return ok ? 0 : 1;
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync(CancellationToken.None);
            }
        }
    }

    private static async Task<LoadResult> RunBurstAsync(ChatClient client, LoadSettings settings, CancellationToken cancellationToken)
    {
        var recorder = new LoadRecorder();
        var clock = Stopwatch.StartNew();
        var clients = Enumerable.Range(0, settings.Clients).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < settings.RequestsPerClient; i++)
            {
                await SendAsync(client, settings.MaxTokens, recorder, cancellationToken);
            }
        }, cancellationToken));
        await Task.WhenAll(clients);
        return recorder.Result(clock.Elapsed, settings.Clients * settings.RequestsPerClient);
    }

    private static async Task<SoakResult> RunSoakAsync(ChatClient client, Process server, LoadSettings settings, CancellationToken cancellationToken)
    {
        var recorder = new LoadRecorder();
        long afterWarmup = 0;
        long peak = 0;
        int next = 0;
        int total = settings.WarmupRequests + settings.SoakRequests;
        var samples = new List<(int Requests, long Rss)>();
        var clock = Stopwatch.StartNew();
        var clients = Enumerable.Range(0, settings.SoakClients).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                int n = Interlocked.Increment(ref next);
                if (n > total)
                {
                    return;
                }

                await SendAsync(client, settings.MaxTokens, recorder, cancellationToken);
                if (n % 100 == 0 || n == settings.WarmupRequests)
                {
                    long rss = ResidentBytes(server);
                    lock (samples)
                    {
                        samples.Add((n, rss));
                        peak = Math.Max(peak, rss);
                        if (n == settings.WarmupRequests)
                        {
                            afterWarmup = rss;
                        }
                    }
                }
            }
        }, cancellationToken));
        await Task.WhenAll(clients);
        long end = ResidentBytes(server);
        return new SoakResult(recorder.Result(clock.Elapsed, total), afterWarmup, end, Math.Max(peak, end), [.. samples.OrderBy(s => s.Requests)]);
    }

    private static async Task SendAsync(ChatClient client, int maxTokens, LoadRecorder recorder, CancellationToken cancellationToken)
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = maxTokens };
        long start = Stopwatch.GetTimestamp();
        try
        {
            var completion = await client.CompleteChatAsync([new UserChatMessage("Once upon a time")], options, cancellationToken);
            recorder.Ok(Stopwatch.GetElapsedTime(start), completion.Value.Usage.OutputTokenCount);
        }
        catch (ClientResultException ex) when (ex.Status == 429)
        {
            recorder.Refused(Stopwatch.GetElapsedTime(start));
        }
        catch (ClientResultException ex) when (ex.Status >= 500)
        {
            recorder.ServerError();
        }
        catch (Exception ex) when (ex is ClientResultException or HttpRequestException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            recorder.Lost(ex);
        }
    }

    private static async Task<string> LocateAppAsync(CancellationToken cancellationToken)
    {
        string repo = RepositoryRoot();
        string project = Path.Combine(repo, "samples", "AspNetApi", "AspNetApi.csproj");
        string dll = Path.Combine(repo, "samples", "AspNetApi", "bin", "Release", "net10.0", "LlmKit.Samples.AspNetApi.dll");
        Console.Error.WriteLine($"building {project} (Release) ...");
        using var build = Process.Start(new ProcessStartInfo("dotnet", ["build", project, "-c", "Release", "-v", "q", "-nologo"]) { RedirectStandardOutput = true })!;
        string log = await build.StandardOutput.ReadToEndAsync(cancellationToken);
        await build.WaitForExitAsync(cancellationToken);
        if (build.ExitCode != 0 || !File.Exists(dll))
        {
            throw new InvalidOperationException($"Building the AspNetApi sample failed (exit {build.ExitCode}):\n{log}");
        }

        return dll;
    }

    private static Process StartServer(string dll, string model, int port, LoadSettings settings)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            dll, "--urls", $"http://127.0.0.1:{port}",
            "--LlmKit:ModelPath", model, "--LlmKit:ModelId", "stories260K", "--LlmKit:ChatTemplate", "None",
            "--Server:MaxConcurrentGenerations", settings.Concurrency.ToString(CultureInfo.InvariantCulture),
            "--Server:MaxQueuedRequests", settings.Queue.ToString(CultureInfo.InvariantCulture),
            "--LlmKit:MaxBatchSize", settings.MaxBatchSize.ToString(CultureInfo.InvariantCulture),
            "--Logging:LogLevel:Default", "Warning",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the server.");

        // Drain the server's output so a full pipe never blocks it; keep errors visible.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine("[server] " + e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitHealthyAsync(Uri endpoint, Process server, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"The server exited with code {server.ExitCode} before becoming healthy.");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("health", UriKind.Relative), cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException("The server did not become healthy within 60 s.");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmKit.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Could not find LlmKit.sln above the benchmark's folder.");
    }

    private static long ResidentBytes(Process process)
    {
        process.Refresh();
        return process.WorkingSet64; // VmRSS on Linux
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int Int(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private sealed record LoadSettings(int Clients, int RequestsPerClient, int SoakRequests, int SoakClients, int WarmupRequests, int MaxTokens, int Concurrency, int Queue, int MaxBatchSize);
}
