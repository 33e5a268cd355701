using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LlmKit.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Generation.Batching;

/// <summary>
/// The KV cache and I/O tensors of up to <see cref="MaxRows"/> sequences decoded together: one ONNX Runtime run feeds
/// one token per row. Only for GroupQueryAttention graphs with a shared past/present buffer (the official builder's
/// form), where ragged rows are native: every row's KV is a [kv_heads, capacity, head_size] block of one
/// [rows, kv_heads, capacity, head_size] tensor, and the attention mask gives each row its own length (the graph turns
/// its row sums into <c>seqlens_k</c>, from which GroupQueryAttention takes each row's past length and position).
/// </summary>
/// <remarks>
/// Rows are kept dense: rows [0, <see cref="Rows"/>) are live, and a leaving row is replaced by the last one
/// (<see cref="RemoveRow"/>), so a run over B rows is a run over the first B blocks of every buffer. The KV memory is
/// native and committed by the OS only where positions are written, so <see cref="MaxRows"/> full-length rows cost
/// what the rows really hold. The mask is always <see cref="Capacity"/> wide (ones for a row's positions, zeros after):
/// GroupQueryAttention reads only its row sums and the width, so a step changes one element per row and the tensors
/// of each batch size are bound once. Not thread-safe: one scheduler thread drives it.
/// </remarks>
internal sealed unsafe class BatchedDecoder : IDisposable
{
    private readonly OnnxGenAIModel _model;
    private readonly DecoderSignature _signature;
    private readonly int _kvTensors;
    private readonly int _blocks;
    private readonly int _blockRowBytes;
    private readonly long _rowBytes;             // one row's KV in one tensor: blocks x capacity x head_size
    private readonly int _vocab;
    private readonly void*[] _kv;                // per KV tensor: MaxRows rows, native memory
    private readonly IndexTensorBuffer _ids;
    private readonly IndexTensorBuffer? _positions;
    private readonly IndexTensorBuffer _mask;
    private readonly float[] _logits;
    private readonly Half[]? _logitsHalf;
    private readonly int[] _lengths;             // positions in each row's cache
    private readonly OrtIoBinding?[] _bindings;  // [rows], bound on first use
    private readonly List<OrtValue> _values = [];
    private readonly RunOptions _runOptions = new();
    private bool _disposed;

    public BatchedDecoder(OnnxGenAIModel model, int maxRows)
    {
        _model = model;
        _signature = model.Signature;
        if (!model.SharesKvBuffer || _signature.CombinedKv || model.SlidingWindow is not null || _signature.DynamicRope is not null)
        {
            throw new NotSupportedException("Batched decoding needs a GroupQueryAttention graph with separate key/value buffers shared between past and present, no sliding window and no dynamic rope scaling.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        MaxRows = maxRows;
        Capacity = model.KvCapacity;
        _kvTensors = _signature.Layers * _signature.KvTensorsPerLayer;
        _blocks = _signature.KvBlocksPerTensor;
        _blockRowBytes = _signature.HeadSize * _signature.KvElementSize;
        _rowBytes = DecoderState.KvTensorBytes(_signature, Capacity);
        _vocab = model.VocabularySize;

        // The caller sized maxRows so that maxRows rows fit (OnnxGenAIModel.BatchRowsThatFit); checked again here.
        nuint tensorBytes = checked((nuint)(_rowBytes * maxRows));
        _kv = new void*[_kvTensors];
        try
        {
            for (int t = 0; t < _kvTensors; t++)
            {
                _kv[t] = NativeMemory.AlignedAlloc(tensorBytes, 64);
            }
        }
        catch
        {
            FreeKv();
            throw;
        }

        _ids = new IndexTensorBuffer(_signature.InputIdsType, maxRows);
        _positions = _signature.PositionIds is null ? null : new IndexTensorBuffer(_signature.PositionIdsType, maxRows);
        _mask = new IndexTensorBuffer(_signature.AttentionMaskType, checked(maxRows * Capacity));
        _logits = GC.AllocateArray<float>(checked(maxRows * _vocab), pinned: true);
        _logitsHalf = _signature.LogitsType == TensorElementType.Float16 ? GC.AllocateArray<Half>(maxRows * _vocab, pinned: true) : null;
        _lengths = new int[maxRows];
        _bindings = new OrtIoBinding?[maxRows + 1];
    }

    /// <summary>Most rows one run decodes.</summary>
    public int MaxRows { get; }

    /// <summary>Positions one row holds (the model's KV capacity).</summary>
    public int Capacity { get; }

    /// <summary>Live rows: [0, Rows).</summary>
    public int Rows { get; private set; }

    /// <summary>Positions in row <paramref name="row"/>'s cache.</summary>
    public int Length(int row) => _lengths[row];

    /// <summary>
    /// Appends a row holding the KV of <paramref name="state"/> (a sequence prefilled on its own), copying its positions;
    /// returns the row.
    /// </summary>
    public int AddRow(DecoderState state)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Rows == MaxRows)
        {
            throw new InvalidOperationException($"All {MaxRows} rows are in use.");
        }

        int row = Rows++;
        int length = state.Length;
        int rowBytes = length * _blockRowBytes;
        int stride = Capacity * _blockRowBytes;
        for (int t = 0; t < _kvTensors; t++)
        {
            var from = state.SharedKvBuffer(t);
            var to = RowSpan(t, row);
            for (int b = 0; b < _blocks; b++)
            {
                from.Slice(b * stride, rowBytes).CopyTo(to.Slice(b * stride, rowBytes));
            }
        }

        _lengths[row] = length;
        _mask.Fill(row * Capacity, length, 1);
        _mask.Fill((row * Capacity) + length, Capacity - length, 0);
        return row;
    }

    /// <summary>
    /// Copies positions [<see cref="DecoderState.Length"/>, <paramref name="tokens"/>.Length) of row <paramref name="row"/>
    /// into <paramref name="state"/> (which already holds the first ones) and declares it holds <paramref name="tokens"/>:
    /// a finished sequence handed to the model's pool for prompt-prefix reuse.
    /// </summary>
    public void CopyRowTo(int row, DecoderState state, ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int start = state.Length;
        int length = tokens.Length;
        if (length > _lengths[row] || start > length)
        {
            throw new ArgumentException($"Row {row} holds {_lengths[row]} positions; cannot copy [{start}, {length}).", nameof(tokens));
        }

        int stride = Capacity * _blockRowBytes;
        int bytes = (length - start) * _blockRowBytes;
        for (int t = 0; t < _kvTensors; t++)
        {
            var from = RowSpan(t, row);
            var to = state.SharedKvBuffer(t);
            for (int b = 0; b < _blocks; b++)
            {
                int offset = (b * stride) + (start * _blockRowBytes);
                from.Slice(offset, bytes).CopyTo(to.Slice(offset, bytes));
            }
        }

        state.AdoptSharedKv(tokens);
    }

    /// <summary>Removes row <paramref name="row"/>: the last row moves into its place (returns the old index of the moved row, or -1).</summary>
    public int RemoveRow(int row)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        int last = --Rows;
        if (row == last)
        {
            return -1;
        }

        int length = _lengths[last];
        int rowBytes = length * _blockRowBytes;
        int stride = Capacity * _blockRowBytes;
        for (int t = 0; t < _kvTensors; t++)
        {
            var from = RowSpan(t, last);
            var to = RowSpan(t, row);
            for (int b = 0; b < _blocks; b++)
            {
                from.Slice(b * stride, rowBytes).CopyTo(to.Slice(b * stride, rowBytes));
            }
        }

        _mask.Copy(last * Capacity, row * Capacity, Capacity);
        _lengths[row] = length;
        return last;
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/>[r] to row r for every live row in one run and returns the logits, [Rows, vocab]
    /// row-major, valid until the next call. Every row must have room for one more position.
    /// </summary>
    public Span<float> Step(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int rows = Rows;
        if (rows == 0 || tokens.Length < rows)
        {
            throw new ArgumentException($"One token per live row ({rows}) is required.", nameof(tokens));
        }

        for (int r = 0; r < rows; r++)
        {
            int length = _lengths[r];
            if (length >= Capacity)
            {
                throw new InvalidOperationException($"Row {r} is full ({Capacity} positions, the model's max length).");
            }

            _ids.Set(r, tokens[r]);
            _positions?.Set(r, length);
            _mask.Set((r * Capacity) + length, 1);
        }

        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            _model.Session.RunWithBinding(_runOptions, Binding(rows));
        }
        catch (OnnxRuntimeException ex)
        {
            // The mask already counts the new positions: undo, so the rows stay as they were.
            for (int r = 0; r < rows; r++)
            {
                _mask.Set((r * Capacity) + _lengths[r], 0);
            }

            throw new InvalidOperationException($"ONNX Runtime failed running '{_model.ModelPath}' on a batch of {rows} sequences: {ex.Message}", ex);
        }

        for (int r = 0; r < rows; r++)
        {
            _lengths[r]++;
        }

        int values = rows * _vocab;
        if (_logitsHalf is not null)
        {
            TensorPrimitives.ConvertToSingle(_logitsHalf.AsSpan(0, values), _logits);
        }

        return _logits.AsSpan(0, values);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var binding in _bindings)
        {
            binding?.Dispose();
        }

        foreach (var value in _values)
        {
            value.Dispose();
        }

        _runOptions.Dispose();
        FreeKv();
    }

    private void FreeKv()
    {
        for (int t = 0; t < _kv.Length; t++)
        {
            if (_kv[t] is not null)
            {
                NativeMemory.AlignedFree(_kv[t]);
                _kv[t] = null;
            }
        }
    }

    private Span<byte> RowSpan(int tensor, int row) =>
        new((byte*)_kv[tensor] + (row * _rowBytes), checked((int)_rowBytes));

    /// <summary>The binding of a run over the first <paramref name="rows"/> rows; its tensors view the shared buffers.</summary>
    private OrtIoBinding Binding(int rows)
    {
        if (_bindings[rows] is { } existing)
        {
            return existing;
        }

        var binding = _model.Session.CreateIoBinding();
        binding.BindInput(_signature.InputIds, Keep(_ids.View([rows, 1])));
        binding.BindInput(_signature.AttentionMask, Keep(_mask.View([rows, Capacity])));
        if (_positions is not null)
        {
            binding.BindInput(_signature.PositionIds!, Keep(_positions.View([rows, 1])));
        }

        long[] kvShape = [rows, _signature.KvHeads, Capacity, _signature.HeadSize];
        for (int t = 0; t < _kvTensors; t++)
        {
            var kv = Keep(OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, _signature.KvType, kvShape, (nint)_kv[t], _rowBytes * rows));
            binding.BindInput(_signature.PastNames[t], kv);
            binding.BindOutput(_signature.PresentNames[t], kv);
        }

        var logits = _logitsHalf is null
            ? DecoderState.Create(_logits, TensorElementType.Float, [rows, 1, _vocab], (long)rows * _vocab * sizeof(float))
            : DecoderState.Create(_logitsHalf, TensorElementType.Float16, [rows, 1, _vocab], (long)rows * _vocab * Unsafe.SizeOf<Half>());
        binding.BindOutput(_signature.Logits, Keep(logits));
        _bindings[rows] = binding;
        return binding;
    }

    private OrtValue Keep(OrtValue value)
    {
        _values.Add(value);
        return value;
    }
}
