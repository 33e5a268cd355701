using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LlmKit.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Generation;

/// <summary>
/// One sequence's KV cache and I/O tensors over a shared <see cref="OnnxGenAIModel"/>. Every tensor is an
/// <see cref="OrtValue"/> over a pinned buffer allocated once; the model pools states, so a new sequence
/// reuses the buffers and tensor views of an old one.
/// </summary>
/// <remarks>
/// Two KV layouts, following <c>past_present_share_buffer</c>:
/// <list type="bullet">
/// <item>shared — one buffer per layer sized to the max length; past and present are the same tensor and the graph
/// (GroupQueryAttention) writes in place. Everything is bound once to an <see cref="OrtIoBinding"/>; a decode
/// step rebinds only the attention mask.</item>
/// <item>ping-pong — present = concat(past, new) is written into the other of two buffers; the views of each
/// length are created once and cached, so a step creates no tensors.</item>
/// </list>
/// Not thread-safe: one state per sequence.
/// </remarks>
internal sealed class DecoderState : IDisposable
{
    private readonly OnnxGenAIModel _model;
    private readonly DecoderSignature _signature;
    private readonly bool _shared;
    private readonly int _layers;
    private readonly int _kvHeads;
    private readonly int _headSize;
    private readonly int _vocab;
    private readonly float[][] _kvBuffers;     // [(side * layers + layer) * 2 + kind], kind 0 = key, 1 = value
    private readonly OrtValue?[] _kvViews;     // [bufferIndex * (Capacity + 1) + length], created on first use
    private readonly long[] _ids;
    private readonly int[] _history;           // the token ids whose KV the state holds, [0, _length)
    private readonly long[] _positions;
    private readonly float[] _stepLogitsBuffer;
    private readonly OrtValue _stepIds;
    private readonly OrtValue? _stepPositions;
    private readonly OrtValue _stepLogits;
    private readonly string[] _inputNames;
    private readonly OrtValue[] _inputValues;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _outputValues;
    private readonly OrtIoBinding? _binding;
    private readonly RunOptions _runOptions = new();
    private readonly long[] _shape = new long[4];
    private float[] _prefillLogits = [];
    private int _side;
    private int _length;
    private int _lengthBeforeLastRun;
    private bool _disposed;

    public DecoderState(OnnxGenAIModel model)
    {
        _model = model;
        _signature = model.Signature;
        _shared = model.SharesKvBuffer;
        var decoder = model.Config.Model.Decoder;
        _layers = _signature.Layers;
        _kvHeads = decoder.NumKeyValueHeads;
        _headSize = decoder.HeadSize;
        _vocab = model.VocabularySize;
        Capacity = model.MaxLength;

        int buffers = (_shared ? 1 : 2) * _layers * 2;
        _kvBuffers = new float[buffers][];
        for (int i = 0; i < buffers; i++)
        {
            _kvBuffers[i] = GC.AllocateArray<float>(_kvHeads * Capacity * _headSize, pinned: true);
        }

        _kvViews = new OrtValue?[buffers * (Capacity + 1)];
        _ids = GC.AllocateArray<long>(Capacity, pinned: true);
        _history = new int[Capacity];
        _positions = GC.AllocateArray<long>(Capacity, pinned: true);
        _stepLogitsBuffer = GC.AllocateArray<float>(_vocab, pinned: true);

        // Decode-step tensors never change shape: create them once; the step writes into their buffers.
        _stepIds = CreateLong(_ids, 1);
        _stepPositions = _signature.PositionIds is null ? null : CreateLong(_positions, 1);
        _stepLogits = CreateLogits(_stepLogitsBuffer, 1);

        _inputNames = [_signature.InputIds, _signature.AttentionMask, .. Optional(_signature.PositionIds), .. KvNames(_signature.PastKeys, _signature.PastValues)];
        _inputValues = new OrtValue[_inputNames.Length];
        _outputNames = [_signature.Logits, .. KvNames(_signature.PresentKeys, _signature.PresentValues)];
        _outputValues = new OrtValue[_outputNames.Length];

        if (_shared)
        {
            _binding = model.Session.CreateIoBinding();
            for (int l = 0; l < _layers; l++)
            {
                for (int kind = 0; kind < 2; kind++)
                {
                    var kv = KvView(0, l, kind, Capacity);
                    _binding.BindInput(kind == 0 ? _signature.PastKeys[l] : _signature.PastValues[l], kv);
                    _binding.BindOutput(kind == 0 ? _signature.PresentKeys[l] : _signature.PresentValues[l], kv);
                }
            }

            BindStepTensors();
        }
    }

    /// <summary>Most tokens this state can hold.</summary>
    public int Capacity { get; }

    /// <summary>Tokens processed so far.</summary>
    public int Length => _length;

    /// <summary>The token ids processed so far (their KV is in the cache); valid until the next call.</summary>
    public ReadOnlySpan<int> Tokens => _history.AsSpan(0, _length);

    /// <summary>
    /// Feeds <paramref name="tokens"/> after the current sequence and returns their logits,
    /// [tokens.Length, vocab] row-major. The span is valid until the next call.
    /// </summary>
    public Span<float> Append(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int count = tokens.Length;
        if (count == 0)
        {
            throw new ArgumentException("At least one token is required.", nameof(tokens));
        }

        if (_length + count > Capacity)
        {
            throw new ArgumentException(
                $"The sequence would be {_length + count} tokens but the model's max length is {Capacity} (context_length/max_length in genai_config.json).",
                nameof(tokens));
        }

        for (int i = 0; i < count; i++)
        {
            _ids[i] = tokens[i];
            _positions[i] = _length + i;
        }

        int total = _length + count;
        if (count == 1)
        {
            Run(_stepIds, _stepPositions, _stepLogits, total, cancellationToken);
            _history[_length] = tokens[0];
            Advance(total);
            return _stepLogitsBuffer;
        }

        // A multi-token run (prefill, or a continuation being scored) gets tensors of its own shape.
        if (_prefillLogits.Length < count * _vocab)
        {
            _prefillLogits = GC.AllocateArray<float>(count * _vocab, pinned: true);
        }

        using var ids = CreateLong(_ids, count);
        using var positions = _signature.PositionIds is null ? null : CreateLong(_positions, count);
        using var logits = CreateLogits(_prefillLogits, count);
        try
        {
            Run(ids, positions, logits, total, cancellationToken);
        }
        finally
        {
            if (_binding is not null)
            {
                BindStepTensors();
            }
        }

        tokens.CopyTo(_history.AsSpan(_length));
        Advance(total);
        return _prefillLogits.AsSpan(0, count * _vocab);
    }

    /// <summary>
    /// Forgets the tokens of the last <see cref="Append"/> (e.g. to score another continuation of the same prompt).
    /// With a shared buffer any shorter length works; with ping-pong buffers only the length before the last call.
    /// </summary>
    public void Rewind(int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (length == _length)
        {
            return;
        }

        if (_shared)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _length);
            ArgumentOutOfRangeException.ThrowIfNegative(length);
        }
        else if (length == _lengthBeforeLastRun)
        {
            // The other buffer still holds the shorter sequence's KV, untouched by the last run.
            _side = 1 - _side;
        }
        else
        {
            throw new InvalidOperationException($"Can only rewind to {_lengthBeforeLastRun} tokens (the length before the last run), not {length}.");
        }

        _length = length;
        _lengthBeforeLastRun = length;
    }

    /// <summary>
    /// Keeps only the first <paramref name="length"/> tokens, so a new sequence that starts with them skips their
    /// prefill. With a shared buffer this only shortens the length; ping-pong buffers are laid out per length
    /// ([heads, length, head_size]), so each head's rows are moved down in place (a copy of the kept KV).
    /// </summary>
    public void Truncate(int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _length);
        if (!_shared && length > 0 && length < _length)
        {
            int rows = length * _headSize;
            for (int l = 0; l < _layers; l++)
            {
                for (int kind = 0; kind < 2; kind++)
                {
                    // Head h moves from h * _length rows to h * length rows: never onto a later head's source.
                    var buffer = _kvBuffers[(((_side * _layers) + l) * 2) + kind].AsSpan();
                    for (int h = 1; h < _kvHeads; h++)
                    {
                        buffer.Slice(h * _length * _headSize, rows).CopyTo(buffer.Slice(h * rows, rows));
                    }
                }
            }
        }

        _length = length;
        _lengthBeforeLastRun = length;
    }

    /// <summary>Clears a pending cancellation so a returned state can serve the next sequence.</summary>
    public void ClearCancellation() => _runOptions.Terminate = false;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _binding?.Dispose();
        foreach (var view in _kvViews)
        {
            view?.Dispose();
        }

        _stepIds.Dispose();
        _stepPositions?.Dispose();
        _stepLogits.Dispose();
        _runOptions.Dispose();
    }

    private void Advance(int total)
    {
        _lengthBeforeLastRun = _length;
        _length = total;
        if (!_shared)
        {
            _side = 1 - _side;
        }
    }

    private void Run(OrtValue ids, OrtValue? positions, OrtValue logits, int total, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var mask = _model.AttentionMaskOfLength(total);
        if (_binding is not null)
        {
            if (!ReferenceEquals(ids, _stepIds))
            {
                _binding.BindInput(_signature.InputIds, ids);
                _binding.BindOutput(_signature.Logits, logits);
                if (positions is not null)
                {
                    _binding.BindInput(_signature.PositionIds!, positions);
                }
            }

            _binding.BindInput(_signature.AttentionMask, mask);
        }
        else
        {
            int slot = 0;
            _inputValues[slot++] = ids;
            _inputValues[slot++] = mask;
            if (positions is not null)
            {
                _inputValues[slot++] = positions;
            }

            _outputValues[0] = logits;
            for (int l = 0; l < _layers; l++)
            {
                for (int kind = 0; kind < 2; kind++)
                {
                    _inputValues[slot + (2 * l) + kind] = KvView(_side, l, kind, _length);
                    _outputValues[1 + (2 * l) + kind] = KvView(1 - _side, l, kind, total);
                }
            }
        }

        if (ReferenceEquals(ids, _stepIds) || !cancellationToken.CanBeCanceled)
        {
            RunSession();
            return;
        }

        // A long prefill can be stopped mid-run through the run options' terminate flag.
        using var registration = cancellationToken.Register(static s => ((RunOptions)s!).Terminate = true, _runOptions);
        try
        {
            RunSession();
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            _runOptions.Terminate = false;
            throw new OperationCanceledException(cancellationToken);
        }
    }

    private void RunSession()
    {
        try
        {
            if (_binding is not null)
            {
                _model.Session.RunWithBinding(_runOptions, _binding);
            }
            else
            {
                _model.Session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
            }
        }
        catch (OnnxRuntimeException ex) when (!_runOptions.Terminate)
        {
            throw new InvalidOperationException(
                $"ONNX Runtime failed running '{_model.ModelPath}' at sequence length {_length}: {ex.Message}", ex);
        }
    }

    private void BindStepTensors()
    {
        _binding!.BindInput(_signature.InputIds, _stepIds);
        if (_stepPositions is not null)
        {
            _binding.BindInput(_signature.PositionIds!, _stepPositions);
        }

        _binding.BindOutput(_signature.Logits, _stepLogits);
    }

    /// <summary>A [1, kv_heads, length, head_size] view over the start of one KV buffer, created once per length.</summary>
    private OrtValue KvView(int side, int layer, int kind, int length)
    {
        int buffer = (((side * _layers) + layer) * 2) + kind;
        int index = (buffer * (Capacity + 1)) + length;
        if (_kvViews[index] is { } view)
        {
            return view;
        }

        _shape[0] = 1;
        _shape[1] = _kvHeads;
        _shape[2] = length;
        _shape[3] = _headSize;
        view = Create(_kvBuffers[buffer], TensorElementType.Float, _shape, (long)_kvHeads * length * _headSize * sizeof(float));
        _kvViews[index] = view;
        return view;
    }

    private OrtValue CreateLogits(float[] buffer, int count) =>
        Create(buffer, TensorElementType.Float, [1, count, _vocab], (long)count * _vocab * sizeof(float));

    private static OrtValue CreateLong(long[] buffer, int count) =>
        Create(buffer, TensorElementType.Int64, [1, count], (long)count * sizeof(long));

    private static string[] Optional(string? name) => name is null ? [] : [name];

    private static IEnumerable<string> KvNames(string[] keys, string[] values)
    {
        for (int l = 0; l < keys.Length; l++)
        {
            yield return keys[l];
            yield return values[l];
        }
    }

    internal static unsafe OrtValue Create<T>(T[] pinnedBuffer, TensorElementType type, long[] shape, long bytes)
        where T : unmanaged
    {
        // The buffers live on the pinned object heap, so their address is stable for the OrtValue's lifetime.
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinnedBuffer));
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, shape, address, bytes);
    }
}
