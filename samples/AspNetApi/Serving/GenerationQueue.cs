using System.Diagnostics;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace LlmKit.Samples.AspNetApi.Serving;

/// <summary>
/// Bounds the generations running at once (<see cref="ServerOptions.MaxConcurrentGenerations"/>) and the requests
/// waiting for one (<see cref="ServerOptions.MaxQueuedRequests"/>, served oldest first). A request that finds the
/// queue full is refused at once so the server answers 429 instead of piling up work it cannot finish.
/// </summary>
/// <remarks>Thread-safe. Also estimates a Retry-After from the recent generation times.</remarks>
public sealed class GenerationQueue : IDisposable
{
    private readonly ConcurrencyLimiter _limiter;
    private readonly int _concurrency;

    // Exponentially weighted mean of how long a slot is held, in Stopwatch ticks (0 until the first generation ends).
    private long _meanHoldTicks;

    /// <summary>Creates the queue from the server options.</summary>
    /// <param name="options">The server options.</param>
    public GenerationQueue(IOptions<ServerOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = options.Value;
        settings.Validate();
        _concurrency = settings.MaxConcurrentGenerations;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = settings.MaxConcurrentGenerations,
            QueueLimit = settings.MaxQueuedRequests,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    /// <summary>Requests waiting for a slot right now.</summary>
    public long QueuedCount => _limiter.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>
    /// Waits for a generation slot. Returns null at once when the queue is full. Dispose the returned slot when the
    /// generation ends.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (e.g. the client disconnected).</param>
    /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
    public async ValueTask<IDisposable?> TryEnterAsync(CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        var lease = await _limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            ApiTelemetry.Rejected.Add(1);
            return null;
        }

        ApiTelemetry.QueueWait.Record(Stopwatch.GetElapsedTime(start).TotalSeconds);
        return new Slot(this, lease);
    }

    /// <summary>Like <see cref="TryEnterAsync"/>, but answers a full queue with the 429 and its Retry-After itself.</summary>
    /// <param name="http">The request context; its RequestAborted cancels the wait.</param>
    /// <returns>The slot, or null when the 429 has been written.</returns>
    public async Task<IDisposable?> EnterOrRejectAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var slot = await TryEnterAsync(http.RequestAborted).ConfigureAwait(false);
        if (slot is null)
        {
            await ApiJson.WriteErrorAsync(http, ApiJson.QueueFull(), RetryAfterSeconds()).ConfigureAwait(false);
        }

        return slot;
    }

    /// <summary>
    /// Seconds a refused client should wait before retrying: the queue ahead of it drained at the recent mean
    /// generation time, at least 1 and at most 60.
    /// </summary>
    public int RetryAfterSeconds()
    {
        double meanSeconds = Volatile.Read(ref _meanHoldTicks) / (double)Stopwatch.Frequency;
        double drain = meanSeconds * (QueuedCount + _concurrency) / _concurrency;
        return (int)Math.Clamp(Math.Ceiling(drain), 1, 60);
    }

    /// <summary>Disposes the limiter; waiting requests fail.</summary>
    public void Dispose() => _limiter.Dispose();

    private void RecordHold(long ticks)
    {
        // A lost update under contention only delays the estimate by one sample; no lock needed.
        long mean = Volatile.Read(ref _meanHoldTicks);
        Volatile.Write(ref _meanHoldTicks, mean == 0 ? ticks : mean + ((ticks - mean) / 8));
    }

    private sealed class Slot(GenerationQueue owner, RateLimitLease lease) : IDisposable
    {
        private readonly long _start = Stopwatch.GetTimestamp();
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.RecordHold(Stopwatch.GetTimestamp() - _start);
                lease.Dispose();
            }
        }
    }
}
