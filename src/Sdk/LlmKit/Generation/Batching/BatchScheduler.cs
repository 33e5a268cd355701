using System.Collections.Concurrent;
using LlmKit.Models;

namespace LlmKit.Generation.Batching;

/// <summary>
/// Serves concurrent generations on one model with shared decode steps. One thread loops: it admits at most one
/// newcomer per iteration (a batch-1 prefill on a pooled <see cref="DecoderState"/>, so prompt prefixes are reused,
/// whose KV then joins the batch), drops sequences that were cancelled or abandoned, and runs one decode step for
/// every live sequence in a single ONNX Runtime run. A sequence that finishes leaves at once (its KV goes back to the
/// model's pool for prefix reuse); the others go on.
/// </summary>
/// <remarks>
/// Thread-safe: <see cref="Submit"/> may be called from any thread. The decode loop itself runs on the scheduler
/// thread (or on the caller of <see cref="RunOnce"/> when created without one, as tests do).
/// </remarks>
internal sealed class BatchScheduler : IDisposable
{
    private readonly OnnxGenAIModel _model;
    private readonly BatchedDecoder _decoder;
    private readonly ConcurrentQueue<BatchedSequence> _incoming = new();
    private readonly BatchedSequence?[] _rows;
    private readonly int[] _feed;              // the token each row feeds in the next step
    private readonly bool[] _finished;
    private readonly ManualResetEventSlim _signal = new(false);
    private readonly bool _ownThread;
    private readonly Lock _startLock = new();
    private Thread? _thread;
    private volatile bool _stopping;

    public BatchScheduler(OnnxGenAIModel model, int maxRows, bool ownThread = true)
    {
        _model = model;
        _decoder = new BatchedDecoder(model, maxRows);
        _rows = new BatchedSequence?[maxRows];
        _feed = new int[maxRows];
        _finished = new bool[maxRows];
        _ownThread = ownThread;
    }

    /// <summary>Most sequences decoded in one run.</summary>
    public int MaxRows => _decoder.MaxRows;

    /// <summary>Sequences in the batch now (read from another thread it is a snapshot).</summary>
    public int ActiveRows => _decoder.Rows;

    /// <summary>Decode runs made so far, and the rows they decoded (their ratio is the mean batch size).</summary>
    public long DecodeRuns { get; private set; }

    /// <inheritdoc cref="DecodeRuns"/>
    public long DecodedRows { get; private set; }

    /// <summary>Queues a sequence; its tokens arrive through the returned source. <paramref name="constraint"/> is the
    /// sequence's own matcher for <see cref="GenerationOptions.Constraint"/> (null without one).</summary>
    public BatchedSequence Submit(ReadOnlySpan<int> prompt, GenerationOptions resolved, LogitsPipeline pipeline, Constraints.ConstraintMatcher? constraint, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var sequence = new BatchedSequence(this, _model, prompt, resolved, pipeline, constraint, cancellationToken);
        _incoming.Enqueue(sequence);
        if (_ownThread)
        {
            EnsureThread();
            Wake();
        }

        return sequence;
    }

    /// <summary>Wakes the loop (new work, or a sequence abandoned).</summary>
    public void Wake() => _signal.Set();

    /// <summary>One iteration: drop abandoned sequences, admit at most one newcomer, run one decode step. Returns false when idle.</summary>
    internal bool RunOnce()
    {
        DropAbandoned();
        bool worked = false;
        if (_decoder.Rows < _decoder.MaxRows && _incoming.TryDequeue(out var newcomer))
        {
            Admit(newcomer);
            worked = true;
        }

        if (_decoder.Rows > 0)
        {
            DecodeStep();
            worked = true;
        }

        return worked || !_incoming.IsEmpty && _decoder.Rows < _decoder.MaxRows;
    }

    private void EnsureThread()
    {
        if (_thread is not null)
        {
            return;
        }

        lock (_startLock)
        {
            if (_thread is null)
            {
                var thread = new Thread(Loop) { IsBackground = true, Name = $"LlmKit batch decoder ({_model.ModelId})" };
                thread.Start();
                _thread = thread;
            }
        }
    }

    private void Loop()
    {
        while (!_stopping)
        {
            _signal.Reset();
            bool worked;
            try
            {
                worked = RunOnce();
            }
            catch (Exception ex)
            {
                // A failed run leaves no row in a known state: every live sequence gets the error.
                FailAll(ex);
                worked = true;
            }

            if (!worked && !_stopping)
            {
                _signal.Wait();
            }
        }
    }

    private void Admit(BatchedSequence sequence)
    {
        if (sequence.IsAbandoned)
        {
            Abandon(sequence);
            return;
        }

        var prompt = sequence.ProducedTokens;
        var state = _model.RentState(prompt);
        bool finishedAtOnce = false;
        try
        {
            // Prefill whatever of the prompt the rented state does not already hold (at least its last token), batch 1.
            int cached = state.Length;
            sequence.CachedPromptTokens = cached;
            int vocab = _model.VocabularySize;
            var logits = state.Append(prompt[cached..], sequence.CancellationToken);
            finishedAtOnce = sequence.Choose(logits.Slice((prompt.Length - cached - 1) * vocab, vocab));
            if (!finishedAtOnce)
            {
                int row = _decoder.AddRow(state);
                _rows[row] = sequence;
                sequence.Publish();
            }
        }
        catch (Exception ex)
        {
            // A failed or cancelled prefill concerns this sequence only; the batch goes on.
            sequence.Fail(ex);
        }
        finally
        {
            _model.ReturnState(state);
        }

        if (finishedAtOnce)
        {
            sequence.Publish();
        }
    }

    private void DecodeStep()
    {
        int rows = _decoder.Rows;
        for (int r = 0; r < rows; r++)
        {
            _feed[r] = _rows[r]!.ProducedTokens[^1];
        }

        var logits = _decoder.Step(_feed.AsSpan(0, rows), CancellationToken.None);
        DecodeRuns++;
        DecodedRows += rows;
        int vocab = _model.VocabularySize;
        for (int r = 0; r < rows; r++)
        {
            _finished[r] = _rows[r]!.Choose(logits.Slice(r * vocab, vocab));
            if (!_finished[r])
            {
                _rows[r]!.Publish();
            }
        }

        // Backwards: a leaving row is replaced by the last row, which was already handled.
        for (int r = rows - 1; r >= 0; r--)
        {
            if (_finished[r])
            {
                var sequence = _rows[r]!;
                Leave(r, keepForReuse: true);
                sequence.Publish();
            }
        }
    }

    private void DropAbandoned()
    {
        for (int r = _decoder.Rows - 1; r >= 0; r--)
        {
            var sequence = _rows[r]!;
            if (sequence.IsAbandoned)
            {
                Abandon(sequence);
                Leave(r, keepForReuse: !sequence.CancellationToken.IsCancellationRequested);
            }
        }
    }

    private static void Abandon(BatchedSequence sequence)
    {
        sequence.Fail(sequence.CancellationToken.IsCancellationRequested
            ? new OperationCanceledException(sequence.CancellationToken)
            : new InvalidOperationException("The generation was stopped."));
    }

    /// <summary>Removes row <paramref name="row"/>; with <paramref name="keepForReuse"/> its KV goes to the model's pool first.</summary>
    private void Leave(int row, bool keepForReuse)
    {
        var sequence = _rows[row]!;
        if (keepForReuse && _model.ReusesPromptPrefixes)
        {
            // The cache holds every chosen token but the last (never fed).
            var held = sequence.ProducedTokens[.._decoder.Length(row)];
            var pooled = _model.RentState(held);
            try
            {
                _decoder.CopyRowTo(row, pooled, held);
            }
            finally
            {
                _model.ReturnState(pooled);
            }
        }

        int last = _decoder.Rows - 1;
        int moved = _decoder.RemoveRow(row);
        if (moved >= 0)
        {
            _rows[row] = _rows[moved];
        }

        _rows[last] = null;
    }

    private void FailAll(Exception error)
    {
        for (int r = _decoder.Rows - 1; r >= 0; r--)
        {
            _rows[r]!.Fail(error);
            Leave(r, keepForReuse: false);
        }
    }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        Wake();
        if (_thread is not null && _thread != Thread.CurrentThread)
        {
            _thread.Join();
        }

        var disposed = new ObjectDisposedException(nameof(OnnxGenAIModel), "The model was disposed while generating.");
        FailAll(disposed);
        while (_incoming.TryDequeue(out var queued))
        {
            queued.Fail(disposed);
        }

        _decoder.Dispose();
        _signal.Dispose();
    }
}
