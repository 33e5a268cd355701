using System.Globalization;

namespace LlmKit.Benchmarks.AspNet;

/// <summary>Counts outcomes and latencies of concurrent requests (thread-safe).</summary>
internal sealed class LoadRecorder
{
    private readonly object _gate = new();
    private readonly List<double> _okMs = [];
    private readonly List<double> _refusedMs = [];
    private readonly List<string> _lostSamples = [];
    private long _tokens;
    private int _serverErrors;
    private int _lost;

    public void Ok(TimeSpan latency, int tokens)
    {
        lock (_gate)
        {
            _okMs.Add(latency.TotalMilliseconds);
            _tokens += tokens;
        }
    }

    public void Refused(TimeSpan latency)
    {
        lock (_gate)
        {
            _refusedMs.Add(latency.TotalMilliseconds);
        }
    }

    public void ServerError() => Interlocked.Increment(ref _serverErrors);

    public void Lost(Exception ex)
    {
        Interlocked.Increment(ref _lost);
        lock (_gate)
        {
            if (_lostSamples.Count < 3)
            {
                _lostSamples.Add(ex.GetType().Name + ": " + ex.Message);
            }
        }
    }

    public LoadResult Result(TimeSpan wall, int sent)
    {
        lock (_gate)
        {
            return new LoadResult(sent, _okMs.Count, _refusedMs.Count, _serverErrors, _lost, wall, _tokens,
                Percentiles.Of(_okMs), Percentiles.Of(_refusedMs), [.. _lostSamples]);
        }
    }
}

/// <summary>p50/p95/max of a set of latencies in milliseconds.</summary>
internal sealed record Percentiles(double P50, double P95, double Max)
{
    public static Percentiles Of(List<double> values)
    {
        if (values.Count == 0)
        {
            return new Percentiles(double.NaN, double.NaN, double.NaN);
        }

        var sorted = values.Order().ToArray();
        return new Percentiles(At(sorted, 0.50), At(sorted, 0.95), sorted[^1]);
    }

    // Nearest-rank percentile.
    private static double At(double[] sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>Outcome of one load phase.</summary>
internal sealed record LoadResult(int Sent, int Ok, int Refused, int ServerErrors, int Lost, TimeSpan Wall, long Tokens,
    Percentiles OkLatency, Percentiles RefusedLatency, IReadOnlyList<string> LostSamples)
{
    public void Print()
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine("| sent | 200 | 429 | 5xx | lost | wall s | 200/s | gen tok/s | 200 p50 ms | 200 p95 ms | 200 max ms | 429 p50 ms | 429 p95 ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        Console.WriteLine(string.Create(c,
            $"| {Sent} | {Ok} | {Refused} | {ServerErrors} | {Lost} | {Wall.TotalSeconds:F2} | {Ok / Wall.TotalSeconds:F1} | {Tokens / Wall.TotalSeconds:F0} | {OkLatency.P50:F1} | {OkLatency.P95:F1} | {OkLatency.Max:F1} | {RefusedLatency.P50:F1} | {RefusedLatency.P95:F1} |"));
        Console.WriteLine(Ok + Refused + ServerErrors + Lost == Sent ? $"accounted for: {Sent} of {Sent}" : $"MISMATCH: {Ok + Refused + ServerErrors + Lost} outcomes for {Sent} requests");
        foreach (string sample in LostSamples)
        {
            Console.WriteLine("lost: " + sample);
        }
    }
}

/// <summary>Outcome of the soak: the load figures and the server's resident memory.</summary>
internal sealed record SoakResult(LoadResult Result, long RssAfterWarmup, long RssEnd, long RssPeak, IReadOnlyList<(int Requests, long Rss)> Samples)
{
    public double GrowthPercent => RssAfterWarmup == 0 ? double.NaN : 100.0 * (RssEnd - RssAfterWarmup) / RssAfterWarmup;

    public void Print()
    {
        Result.Print();
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"RSS after warm-up {RssAfterWarmup / 1048576.0:F1} MiB, at the end {RssEnd / 1048576.0:F1} MiB, peak {RssPeak / 1048576.0:F1} MiB: growth {GrowthPercent:+0.0;-0.0}% (limit 10%)"));
        Console.WriteLine("RSS by request: " + string.Join(", ", Samples.Select(s => string.Create(c, $"{s.Requests}: {s.Rss / 1048576.0:F1}"))));
    }
}
