using LlmKit.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Generation;

/// <summary>
/// A pinned buffer of token ids or positions in the element type the graph declares (int64 in the official
/// builder's graphs, int32 in GPT-2 exports), viewed as [1, count] tensors.
/// </summary>
internal sealed class IndexTensorBuffer
{
    private readonly long[]? _longs;
    private readonly int[]? _ints;

    public IndexTensorBuffer(TensorElementType type, int capacity)
    {
        Type = type;
        if (type == TensorElementType.Int32)
        {
            _ints = GC.AllocateArray<int>(capacity, pinned: true);
        }
        else
        {
            _longs = GC.AllocateArray<long>(capacity, pinned: true);
        }
    }

    public TensorElementType Type { get; }

    public void Set(int index, int value)
    {
        if (_ints is not null)
        {
            _ints[index] = value;
        }
        else
        {
            _longs![index] = value;
        }
    }

    public void Fill(int value)
    {
        if (_ints is not null)
        {
            Array.Fill(_ints, value);
        }
        else
        {
            Array.Fill(_longs!, value);
        }
    }

    /// <summary>Sets <paramref name="count"/> elements from <paramref name="start"/> to <paramref name="value"/>.</summary>
    public void Fill(int start, int count, int value)
    {
        if (_ints is not null)
        {
            _ints.AsSpan(start, count).Fill(value);
        }
        else
        {
            _longs.AsSpan(start, count).Fill(value);
        }
    }

    /// <summary>Copies <paramref name="count"/> elements from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public void Copy(int from, int to, int count)
    {
        if (_ints is not null)
        {
            _ints.AsSpan(from, count).CopyTo(_ints.AsSpan(to, count));
        }
        else
        {
            _longs.AsSpan(from, count).CopyTo(_longs.AsSpan(to, count));
        }
    }

    /// <summary>A tensor of the given shape over the first elements (their product); the caller disposes it.</summary>
    public OrtValue View(long[] shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            count *= d;
        }

        return _ints is not null
            ? DecoderState.Create(_ints, TensorElementType.Int32, shape, count * sizeof(int))
            : DecoderState.Create(_longs!, TensorElementType.Int64, shape, count * sizeof(long));
    }

    /// <summary>A [1, count] tensor over the first <paramref name="count"/> elements; the caller disposes it.</summary>
    public OrtValue View(int count) => _ints is not null
        ? DecoderState.Create(_ints, TensorElementType.Int32, [1, count], (long)count * sizeof(int))
        : DecoderState.Create(_longs!, TensorElementType.Int64, [1, count], (long)count * sizeof(long));
}
