using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LlmKit.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using System.Numerics.Tensors;

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
/// KV tensors are Float or Float16 and separate (key, value) or combined per layer (GPT-2), as the graph declares;
/// ids, mask and positions are int64 or int32; fp16 logits are widened to float after each run.
/// Not thread-safe: one state per sequence.
/// </remarks>
internal sealed class DecoderState : IDisposable
{
    private readonly OnnxGenAIModel _model;
    private readonly DecoderSignature _signature;
    private readonly bool _shared;
    private readonly int _kvTensors;           // KV tensors per side: layers x (2 separate or 1 combined)
    private readonly int _blocks;              // [sequence, head_size] blocks per KV tensor
    private readonly int _blockRowBytes;       // bytes of one position in one block
    private readonly int _vocab;
    private readonly byte[][] _kvBuffers;      // [side * _kvTensors + tensor]
    private readonly OrtValue?[] _kvViews;     // [bufferIndex * (Capacity + 1) + length], created on first use
    private readonly IndexTensorBuffer _ids;
    private readonly IndexTensorBuffer? _positions;
    private readonly int[] _history;           // the token ids whose KV the state holds, [0, _length)
    private readonly float[] _stepLogitsBuffer;
    private readonly Half[]? _stepLogitsHalf;  // the graph's fp16 logits, widened into _stepLogitsBuffer
    private readonly OrtValue _stepIds;
    private readonly OrtValue? _stepPositions;
    private readonly OrtValue _stepLogits;
    private readonly int _baseInputCount;      // graph inputs before any adapter parameters
    private string[] _inputNames;
    private OrtValue[] _inputValues;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _outputValues;
    private readonly OrtIoBinding? _binding;
    private readonly DynamicRopeTables? _rope;   // dynamic NTK: cos/sin rows written before each run
    private readonly RunOptions _runOptions = new();
    private readonly long[] _shape;
    private float[] _prefillLogits = [];
    private Half[] _prefillLogitsHalf = [];
    private readonly int _window;              // sliding-window size (int.MaxValue: none)
    private float[] _slidingLogits = [];
    private int _side;
    private int _length;                       // positions in the KV cache
    private int _offset;                       // positions dropped from the front by a sliding window
    private int _lengthBeforeLastRun;
    private int _offsetBeforeLastRun;
    private bool _disposed;

    public DecoderState(OnnxGenAIModel model)
    {
        _model = model;
        _signature = model.Signature;
        _shared = model.SharesKvBuffer;
        _kvTensors = _signature.Layers * _signature.KvTensorsPerLayer;
        _blocks = _signature.KvBlocksPerTensor;
        _blockRowBytes = _signature.HeadSize * _signature.KvElementSize;
        _vocab = model.VocabularySize;
        Capacity = model.KvCapacity;
        _window = model.SlidingWindow ?? int.MaxValue;
        _shape = new long[_signature.KvRank];

        int buffers = (_shared ? 1 : 2) * _kvTensors;
        int bufferBytes = checked((int)KvTensorBytes(_signature, Capacity)); // Load checked it fits an array
        _kvBuffers = new byte[buffers][];
        for (int i = 0; i < buffers; i++)
        {
            _kvBuffers[i] = GC.AllocateArray<byte>(bufferBytes, pinned: true);
        }

        _kvViews = new OrtValue?[buffers * (Capacity + 1)];
        _ids = new IndexTensorBuffer(_signature.InputIdsType, Capacity);
        _positions = _signature.PositionIds is null ? null : new IndexTensorBuffer(_signature.PositionIdsType, Capacity);
        _history = new int[Capacity];
        _stepLogitsBuffer = GC.AllocateArray<float>(_vocab, pinned: true);

        // Decode-step tensors never change shape: create them once; the step writes into their buffers.
        _stepIds = _ids.View(1);
        _stepPositions = _positions?.View(1);
        if (_signature.LogitsType == TensorElementType.Float16)
        {
            _stepLogitsHalf = GC.AllocateArray<Half>(_vocab, pinned: true);
            _stepLogits = CreateLogits(_stepLogitsHalf, 1);
        }
        else
        {
            _stepLogits = CreateLogits(_stepLogitsBuffer, 1);
        }

        if (_signature.DynamicRope is { } rope)
        {
            _rope = new DynamicRopeTables(rope, _signature.RopeCacheRows);
        }

        string[] ropeNames = _rope is null ? [] : [DecoderSignature.CosCache, DecoderSignature.SinCache];
        _inputNames = [_signature.InputIds, _signature.AttentionMask, .. Optional(_signature.PositionIds), .. _signature.PastNames, .. ropeNames];
        _inputValues = new OrtValue[_inputNames.Length];
        _baseInputCount = _inputNames.Length;
        _outputNames = [_signature.Logits, .. _signature.PresentNames];
        _outputValues = new OrtValue[_outputNames.Length];

        if (_shared)
        {
            _binding = model.Session.CreateIoBinding();
            for (int t = 0; t < _kvTensors; t++)
            {
                var kv = KvView(0, t, Capacity);
                _binding.BindInput(_signature.PastNames[t], kv);
                _binding.BindOutput(_signature.PresentNames[t], kv);
            }

            BindStepTensors();
        }
    }

    /// <summary>The LoRA adapter this state's KV was computed with; null for the base model.</summary>
    public LoraAdapter? Adapter { get; private set; }

    /// <summary>
    /// Runs later tokens with <paramref name="adapter"/>'s tensors fed to the graph's LoRA inputs (null: the graph's
    /// rank-0 defaults, the base model). The caller empties or overwrites the cache when switching (see RentState).
    /// The parameters are ordinary inputs here, bound once per switch: ONNX Runtime's RunOptions adapters have no
    /// effect with an OrtIoBinding, which shared-buffer states run with.
    /// </summary>
    public void SetAdapter(LoraAdapter? adapter)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ReferenceEquals(adapter, Adapter))
        {
            return;
        }

        string[] names = adapter?.ParameterNames ?? [];
        if (_binding is not null)
        {
            // Inputs cannot be unbound one by one: clear them all and bind the KV, step tensors and new parameters again.
            _binding.ClearBoundInputs();
            for (int t = 0; t < _kvTensors; t++)
            {
                _binding.BindInput(_signature.PastNames[t], KvView(0, t, Capacity));
            }

            BindStepTensors();
            for (int i = 0; i < names.Length; i++)
            {
                _binding.BindInput(names[i], adapter!.Values[i]);
            }
        }
        else
        {
            _inputNames = [.. _inputNames.AsSpan(0, _baseInputCount), .. names];
            _inputValues = new OrtValue[_inputNames.Length];
            for (int i = 0; i < names.Length; i++)
            {
                _inputValues[_baseInputCount + i] = adapter!.Values[i];
            }
        }

        Adapter = adapter;
    }

    /// <summary>Most tokens this state can hold.</summary>
    public int Capacity { get; }

    /// <summary>Tokens processed so far.</summary>
    public int Length => _length;

    /// <summary>The token ids processed so far (their KV is in the cache); valid until the next call.</summary>
    public ReadOnlySpan<int> Tokens => _history.AsSpan(0, _length);

    /// <summary>Bytes of one KV tensor sized to <paramref name="capacity"/> positions of one sequence.</summary>
    public static long KvTensorBytes(DecoderSignature signature, int capacity) =>
        checked((long)signature.KvBlocksPerTensor * capacity * signature.HeadSize * signature.KvElementSize);

    /// <summary>Bytes of KV cache one state allocates: every KV tensor, twice over for ping-pong buffers.</summary>
    public static long KvBytesPerState(DecoderSignature signature, int capacity, bool sharedBuffer) =>
        checked(KvTensorBytes(signature, capacity) * signature.Layers * signature.KvTensorsPerLayer * (sharedBuffer ? 1 : 2));

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

        _offsetBeforeLastRun = _offset;
        if (_offset + _length + count > _window && (count > 1 || _length >= _window))
        {
            return AppendSliding(tokens, cancellationToken);
        }

        return AppendRun(tokens, cancellationToken);
    }

    /// <summary>
    /// Sliding-window attention done by the cache: a position sees the last <c>window</c> positions, itself included.
    /// Tokens that still fit the window run together (plain causal attention is then exact); each later token runs on
    /// its own after the oldest positions are dropped, so it sees exactly the window.
    /// </summary>
    private Span<float> AppendSliding(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        int count = tokens.Length;
        int values = checked(count * _vocab);
        if (_slidingLogits.Length < values)
        {
            _slidingLogits = new float[values];
        }

        int done = Math.Max(0, Math.Min(count, _window - (_offset + _length)));
        if (done > 0)
        {
            AppendRun(tokens[..done], cancellationToken).CopyTo(_slidingLogits);
        }

        for (; done < count; done++)
        {
            if (_length >= _window)
            {
                Slide(_length - (_window - 1));
            }

            AppendRun(tokens.Slice(done, 1), cancellationToken).CopyTo(_slidingLogits.AsSpan(done * _vocab));
        }

        return _slidingLogits.AsSpan(0, values);
    }

    /// <summary>Drops the oldest <paramref name="drop"/> positions: each block's later rows move to its front (ping-pong layout).</summary>
    private void Slide(int drop)
    {
        int keptBytes = (_length - drop) * _blockRowBytes;
        for (int t = 0; t < _kvTensors; t++)
        {
            var buffer = _kvBuffers[(_side * _kvTensors) + t].AsSpan();
            for (int b = 0; b < _blocks; b++)
            {
                // Block b's destination ends before block b + 1's source starts, so moving in order is safe.
                buffer.Slice(((b * _length) + drop) * _blockRowBytes, keptBytes).CopyTo(buffer.Slice(b * keptBytes, keptBytes));
            }
        }

        _history.AsSpan(drop, _length - drop).CopyTo(_history);
        _offset += drop;
        _length -= drop;
        _lengthBeforeLastRun = _length;
    }

    private Span<float> AppendRun(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        int count = tokens.Length;
        if (_length + count > Capacity)
        {
            throw new ArgumentException(
                $"The sequence would be {_length + count} tokens but the model's max length is {Capacity} (context_length/max_length in genai_config.json).",
                nameof(tokens));
        }

        for (int i = 0; i < count; i++)
        {
            _ids.Set(i, tokens[i]);
            _positions?.Set(i, _offset + _length + i);
        }

        int total = _length + count;

        // Dynamic NTK: this run's positions get the frequencies of its total length; cached keys keep theirs.
        _rope?.Prepare(_offset + _length, _offset + total);
        if (count == 1)
        {
            Run(_stepIds, _stepPositions, _stepLogits, total, cancellationToken);
            if (_stepLogitsHalf is not null)
            {
                TensorPrimitives.ConvertToSingle(_stepLogitsHalf, _stepLogitsBuffer);
            }

            _history[_length] = tokens[0];
            Advance(total);
            return _stepLogitsBuffer;
        }

        // A multi-token run (prefill, or a continuation being scored) gets tensors of its own shape.
        int values = checked(count * _vocab);
        if (_prefillLogits.Length < values)
        {
            _prefillLogits = GC.AllocateArray<float>(values, pinned: true);
        }

        if (_stepLogitsHalf is not null && _prefillLogitsHalf.Length < values)
        {
            _prefillLogitsHalf = GC.AllocateArray<Half>(values, pinned: true);
        }

        using var ids = _ids.View(count);
        using var positions = _positions?.View(count);
        using var logits = _stepLogitsHalf is null ? CreateLogits(_prefillLogits, count) : CreateLogits(_prefillLogitsHalf, count);
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

        if (_stepLogitsHalf is not null)
        {
            TensorPrimitives.ConvertToSingle(_prefillLogitsHalf.AsSpan(0, values), _prefillLogits);
        }

        tokens.CopyTo(_history.AsSpan(_length));
        Advance(total);
        return _prefillLogits.AsSpan(0, values);
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

        if (_offset != _offsetBeforeLastRun)
        {
            throw new InvalidOperationException("Cannot rewind across a sliding-window step: the dropped positions are gone.");
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
    /// ([blocks, length, head_size]), so each block's rows are moved down in place (a copy of the kept KV).
    /// </summary>
    public void Truncate(int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _length);
        if (length == 0)
        {
            _offset = 0;
            _offsetBeforeLastRun = 0;
        }
        else if (_offset > 0)
        {
            throw new InvalidOperationException("A sequence that slid past its window cannot be kept as a prefix.");
        }

        if (!_shared && length > 0 && length < _length)
        {
            int rowBytes = length * _blockRowBytes;
            for (int t = 0; t < _kvTensors; t++)
            {
                // Block b moves from b * _length rows to b * length rows: never onto a later block's source.
                var buffer = _kvBuffers[(_side * _kvTensors) + t].AsSpan();
                for (int b = 1; b < _blocks; b++)
                {
                    buffer.Slice(b * _length * _blockRowBytes, rowBytes).CopyTo(buffer.Slice(b * rowBytes, rowBytes));
                }
            }
        }

        _length = length;
        _lengthBeforeLastRun = length;
    }

    /// <summary>
    /// Makes this state hold the same tokens and KV cache as <paramref name="source"/> (a beam taking over its parent's
    /// sequence): the first <see cref="Length"/> positions of every block are copied; later positions are never read.
    /// </summary>
    public void CopyFrom(DecoderState source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(source);
        if (source._model != _model)
        {
            throw new ArgumentException("Both states must belong to the same model.", nameof(source));
        }

        SetAdapter(source.Adapter);

        int length = source._length;
        int rowBytes = length * _blockRowBytes;
        int stride = (_shared ? Capacity : length) * _blockRowBytes; // block b starts at b * stride
        for (int t = 0; t < _kvTensors; t++)
        {
            var from = source._kvBuffers[(source._side * _kvTensors) + t].AsSpan();
            var to = _kvBuffers[(source._side * _kvTensors) + t].AsSpan();
            for (int b = 0; b < _blocks; b++)
            {
                from.Slice(b * stride, rowBytes).CopyTo(to.Slice(b * stride, rowBytes));
            }
        }

        source._history.AsSpan(0, length).CopyTo(_history);
        _side = source._side;
        _offset = source._offset;
        _offsetBeforeLastRun = source._offset;
        _length = length;
        _lengthBeforeLastRun = length;
    }

    /// <summary>
    /// One KV buffer of a shared-buffer state, laid out [blocks, <see cref="Capacity"/>, head_size] like one row of a
    /// batched cache, so <see cref="Batching.BatchedDecoder"/> copies positions between the two row by row.
    /// </summary>
    internal Span<byte> SharedKvBuffer(int tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_shared)
        {
            throw new InvalidOperationException("Only a shared-buffer (GroupQueryAttention) state has one KV buffer per tensor.");
        }

        return _kvBuffers[tensor];
    }

    /// <summary>Declares that the KV buffers now hold <paramref name="tokens"/> (written through <see cref="SharedKvBuffer"/>).</summary>
    internal void AdoptSharedKv(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tokens.Length, Capacity);
        tokens.CopyTo(_history);
        _offset = 0;
        _offsetBeforeLastRun = 0;
        _length = tokens.Length;
        _lengthBeforeLastRun = tokens.Length;
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
        _rope?.Dispose();
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
            for (int t = 0; t < _kvTensors; t++)
            {
                _inputValues[slot + t] = KvView(_side, t, _length);
                _outputValues[1 + t] = KvView(1 - _side, t, total);
            }

            if (_rope is not null)
            {
                _inputValues[slot + _kvTensors] = _rope.Cos;
                _inputValues[slot + _kvTensors + 1] = _rope.Sin;
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
        if (_rope is not null)
        {
            _binding.BindInput(DecoderSignature.CosCache, _rope.Cos);
            _binding.BindInput(DecoderSignature.SinCache, _rope.Sin);
        }
    }

    /// <summary>A view of <paramref name="length"/> positions over the start of one KV buffer, created once per length.</summary>
    private OrtValue KvView(int side, int tensor, int length)
    {
        int buffer = (side * _kvTensors) + tensor;
        int index = (buffer * (Capacity + 1)) + length;
        if (_kvViews[index] is { } view)
        {
            return view;
        }

        _signature.KvShape(_shape, length);
        view = Create(_kvBuffers[buffer], _signature.KvType, _shape, (long)_blocks * length * _blockRowBytes);
        _kvViews[index] = view;
        return view;
    }

    private OrtValue CreateLogits<T>(T[] buffer, int count)
        where T : unmanaged =>
        Create(buffer, _signature.LogitsType, [1, count, _vocab], (long)count * _vocab * Unsafe.SizeOf<T>());

    private static string[] Optional(string? name) => name is null ? [] : [name];

    internal static unsafe OrtValue Create<T>(T[] pinnedBuffer, TensorElementType type, long[] shape, long bytes)
        where T : unmanaged
    {
        // The buffers live on the pinned object heap, so their address is stable for the OrtValue's lifetime.
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinnedBuffer));
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, shape, address, bytes);
    }
}
