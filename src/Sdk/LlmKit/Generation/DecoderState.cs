using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LlmKit.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Generation;

/// <summary>
/// One sequence's KV cache and I/O buffers over a shared <see cref="OnnxGenAIModel"/>. All tensors are
/// <see cref="OrtValue"/>s over pinned buffers allocated once; a decode step writes the new token in place and
/// runs the session with preallocated outputs.
/// </summary>
/// <remarks>
/// Two KV layouts, following <c>past_present_share_buffer</c>: shared (one buffer per layer sized to the
/// max length; past and present are the same tensor and the graph writes in place, as GroupQueryAttention does),
/// or ping-pong (present = concat(past, new) is written into the other of two buffers).
/// Not thread-safe: one state per sequence.
/// </remarks>
internal sealed class DecoderState : IDisposable
{
    private readonly OnnxGenAIModel _model;
    private readonly DecoderSignature _signature;
    private readonly bool _shared;
    private readonly int _kvHeads;
    private readonly int _headSize;
    private readonly int _vocab;
    private readonly float[][] _keyBuffers;   // [side * layers + layer]; one side when shared
    private readonly float[][] _valueBuffers;
    private readonly OrtValue?[] _pastKeys;
    private readonly OrtValue?[] _pastValues;
    private readonly long[] _ids;
    private readonly long[] _positions;
    private readonly string[] _inputNames;
    private readonly OrtValue[] _inputValues;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _outputValues;
    private readonly long[] _shape2 = new long[2];
    private readonly long[] _shape3 = new long[3];
    private readonly long[] _shape4 = new long[4];
    private readonly OrtValue _stepIds;
    private readonly OrtValue? _stepPositions;
    private readonly OrtValue _stepLogits;
    private readonly RunOptions _runOptions = new();
    private readonly float[] _stepLogitsBuffer;
    private float[] _logits;
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
        _kvHeads = decoder.NumKeyValueHeads;
        _headSize = decoder.HeadSize;
        _vocab = model.VocabularySize;
        Capacity = model.MaxLength;
        int layers = _signature.Layers;
        int sides = _shared ? 1 : 2;
        int perLayer = _kvHeads * Capacity * _headSize;
        _keyBuffers = new float[sides * layers][];
        _valueBuffers = new float[sides * layers][];
        for (int i = 0; i < sides * layers; i++)
        {
            _keyBuffers[i] = GC.AllocateArray<float>(perLayer, pinned: true);
            _valueBuffers[i] = GC.AllocateArray<float>(perLayer, pinned: true);
        }

        _pastKeys = new OrtValue?[layers];
        _pastValues = new OrtValue?[layers];
        _ids = GC.AllocateArray<long>(Capacity, pinned: true);
        _positions = GC.AllocateArray<long>(Capacity, pinned: true);
        _stepLogitsBuffer = GC.AllocateArray<float>(_vocab, pinned: true);
        _logits = _stepLogitsBuffer;

        bool hasPositions = _signature.PositionIds is not null;
        int inputCount = 2 + (hasPositions ? 1 : 0) + (2 * layers);
        _inputNames = new string[inputCount];
        _inputValues = new OrtValue[inputCount];
        _inputNames[0] = _signature.InputIds;
        _inputNames[1] = _signature.AttentionMask;
        if (hasPositions)
        {
            _inputNames[2] = _signature.PositionIds!;
        }

        int kvStart = hasPositions ? 3 : 2;
        for (int l = 0; l < layers; l++)
        {
            _inputNames[kvStart + (2 * l)] = _signature.PastKeys[l];
            _inputNames[kvStart + (2 * l) + 1] = _signature.PastValues[l];
        }

        _outputNames = new string[1 + (2 * layers)];
        _outputValues = new OrtValue[1 + (2 * layers)];
        _outputNames[0] = _signature.Logits;
        for (int l = 0; l < layers; l++)
        {
            _outputNames[1 + (2 * l)] = _signature.PresentKeys[l];
            _outputNames[2 + (2 * l)] = _signature.PresentValues[l];
        }

        // Decode-step tensors never change shape: create them once.
        _stepIds = CreateLong(_ids, 0, 1, 1);
        _stepPositions = hasPositions ? CreateLong(_positions, 0, 1, 1) : null;
        _stepLogits = Create(_stepLogitsBuffer, TensorElementType.Float, [1, 1, _vocab], (long)_vocab * sizeof(float));
        if (_shared)
        {
            for (int l = 0; l < layers; l++)
            {
                _pastKeys[l] = CreateKv(_keyBuffers[l], Capacity);
                _pastValues[l] = CreateKv(_valueBuffers[l], Capacity);
            }
        }
    }

    /// <summary>Most tokens this state can hold.</summary>
    public int Capacity { get; }

    /// <summary>Tokens processed so far.</summary>
    public int Length => _length;

    /// <summary>
    /// Feeds <paramref name="tokens"/> after the current sequence and returns their logits:
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

        int layers = _signature.Layers;
        int total = _length + count;
        var created = count == 1 ? null : new List<OrtValue>(4);
        try
        {
            for (int i = 0; i < count; i++)
            {
                _ids[i] = tokens[i];
                _positions[i] = _length + i;
            }

            int slot = 0;
            _inputValues[slot++] = count == 1 ? _stepIds : Track(CreateLong(_ids, 0, 1, count));
            _inputValues[slot++] = _model.AttentionMaskOfLength(total);
            if (_signature.PositionIds is not null)
            {
                _inputValues[slot++] = count == 1 ? _stepPositions! : Track(CreateLong(_positions, 0, 1, count));
            }

            if (count > 1 && (_logits.Length < count * _vocab || ReferenceEquals(_logits, _stepLogitsBuffer)))
            {
                _logits = GC.AllocateArray<float>(count * _vocab, pinned: true);
            }

            _outputValues[0] = count == 1 ? _stepLogits : Track(CreateLogits(count));
            int writeSide = _shared ? 0 : 1 - _side;
            for (int l = 0; l < layers; l++)
            {
                if (!_shared)
                {
                    _pastKeys[l] ??= CreateKv(_keyBuffers[(_side * layers) + l], 0);
                    _pastValues[l] ??= CreateKv(_valueBuffers[(_side * layers) + l], 0);
                }

                _inputValues[slot + (2 * l)] = _pastKeys[l]!;
                _inputValues[slot + (2 * l) + 1] = _pastValues[l]!;
                _outputValues[1 + (2 * l)] = _shared ? _pastKeys[l]! : CreateKv(_keyBuffers[(writeSide * layers) + l], total);
                _outputValues[2 + (2 * l)] = _shared ? _pastValues[l]! : CreateKv(_valueBuffers[(writeSide * layers) + l], total);
            }

            Run(count, cancellationToken);

            _lengthBeforeLastRun = _length;
            _length = total;
            if (!_shared)
            {
                // The presents just written become the next step's pasts.
                for (int l = 0; l < layers; l++)
                {
                    _pastKeys[l]!.Dispose();
                    _pastValues[l]!.Dispose();
                    _pastKeys[l] = _outputValues[1 + (2 * l)];
                    _pastValues[l] = _outputValues[2 + (2 * l)];
                }

                _side = writeSide;
            }

            return count == 1 ? _stepLogitsBuffer : new Span<float>(_logits, 0, count * _vocab);
        }
        catch
        {
            if (!_shared)
            {
                for (int l = 0; l < layers; l++)
                {
                    if (!ReferenceEquals(_outputValues[1 + (2 * l)], _pastKeys[l]))
                    {
                        _outputValues[1 + (2 * l)]?.Dispose();
                        _outputValues[2 + (2 * l)]?.Dispose();
                    }
                }
            }

            throw;
        }
        finally
        {
            if (created is not null)
            {
                foreach (var value in created)
                {
                    value.Dispose();
                }
            }
        }

        OrtValue Track(OrtValue value)
        {
            created!.Add(value);
            return value;
        }
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
            _length = length;
            return;
        }

        if (length != _lengthBeforeLastRun)
        {
            throw new InvalidOperationException($"Can only rewind to {_lengthBeforeLastRun} tokens (the length before the last run), not {length}.");
        }

        // The other side still holds the KV of the shorter sequence, untouched by the last run.
        int layers = _signature.Layers;
        _side = 1 - _side;
        for (int l = 0; l < layers; l++)
        {
            _pastKeys[l]!.Dispose();
            _pastValues[l]!.Dispose();
            _pastKeys[l] = CreateKv(_keyBuffers[(_side * layers) + l], length);
            _pastValues[l] = CreateKv(_valueBuffers[(_side * layers) + l], length);
        }

        _length = length;
        _lengthBeforeLastRun = length;
    }

    /// <summary>Empties the sequence so the state (and its buffers) can serve a new one.</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_shared)
        {
            for (int l = 0; l < _signature.Layers; l++)
            {
                _pastKeys[l]?.Dispose();
                _pastValues[l]?.Dispose();
                _pastKeys[l] = null;
                _pastValues[l] = null;
            }
        }

        _side = 0;
        _length = 0;
        _lengthBeforeLastRun = 0;
        _runOptions.Terminate = false;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var v in _pastKeys)
        {
            v?.Dispose();
        }

        foreach (var v in _pastValues)
        {
            v?.Dispose();
        }

        _stepIds.Dispose();
        _stepPositions?.Dispose();
        _stepLogits.Dispose();
        _runOptions.Dispose();
    }

    private void Run(int count, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (count == 1 || !cancellationToken.CanBeCanceled)
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
            _model.Session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
        }
        catch (OnnxRuntimeException ex) when (!_runOptions.Terminate)
        {
            throw new InvalidOperationException(
                $"ONNX Runtime failed running '{_model.ModelPath}' at sequence length {_length}: {ex.Message}", ex);
        }
    }

    private OrtValue CreateKv(float[] buffer, int sequence)
    {
        _shape4[0] = 1;
        _shape4[1] = _kvHeads;
        _shape4[2] = sequence;
        _shape4[3] = _headSize;
        return Create(buffer, TensorElementType.Float, _shape4, (long)_kvHeads * sequence * _headSize * sizeof(float));
    }

    private OrtValue CreateLogits(int count)
    {
        _shape3[0] = 1;
        _shape3[1] = count;
        _shape3[2] = _vocab;
        return Create(_logits, TensorElementType.Float, _shape3, (long)count * _vocab * sizeof(float));
    }

    private OrtValue CreateLong(long[] buffer, int offset, int rows, int columns)
    {
        _shape2[0] = rows;
        _shape2[1] = columns;
        return Create(buffer, TensorElementType.Int64, _shape2, (long)rows * columns * sizeof(long), offset);
    }

    internal static unsafe OrtValue Create<T>(T[] pinnedBuffer, TensorElementType type, long[] shape, long bytes, int offset = 0)
        where T : unmanaged
    {
        // The buffers live on the pinned object heap, so their address is stable for the OrtValue's lifetime.
        nint address = (nint)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(pinnedBuffer), offset));
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, shape, address, bytes);
    }
}
