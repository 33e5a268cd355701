namespace LlmKit.Generation;

/// <summary>Keeps the k largest logits (ties with the k-th kept) and removes the rest.</summary>
public sealed class TopKProcessor : ILogitsProcessor
{
    private readonly int _k;
    private readonly float[] _scratch;

    /// <summary>Creates the processor; <paramref name="k"/> &gt;= 1.</summary>
    public TopKProcessor(int k, int vocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        _k = k;
        _scratch = new float[Math.Min(k, vocabularySize)];
    }

    /// <inheritdoc />
    public void Process(Span<float> logits, TokenHistory history)
    {
        if (_k >= logits.Length)
        {
            return;
        }

        // The k-th largest value is the threshold: keep a min-heap of the k largest seen so far (O(V log k)).
        var heap = _scratch.AsSpan(0, _k);
        for (int i = 0; i < _k; i++)
        {
            heap[i] = logits[i];
            SiftUp(heap, i);
        }

        for (int i = _k; i < logits.Length; i++)
        {
            if (logits[i] > heap[0])
            {
                heap[0] = logits[i];
                SiftDown(heap, 0);
            }
        }

        float threshold = heap[0];
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] < threshold)
            {
                logits[i] = float.NegativeInfinity;
            }
        }
    }

    private static void SiftUp(Span<float> heap, int i)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (heap[parent] <= heap[i])
            {
                return;
            }

            (heap[parent], heap[i]) = (heap[i], heap[parent]);
            i = parent;
        }
    }

    private static void SiftDown(Span<float> heap, int i)
    {
        while (true)
        {
            int smallest = i;
            int left = (2 * i) + 1;
            int right = left + 1;
            if (left < heap.Length && heap[left] < heap[smallest])
            {
                smallest = left;
            }

            if (right < heap.Length && heap[right] < heap[smallest])
            {
                smallest = right;
            }

            if (smallest == i)
            {
                return;
            }

            (heap[smallest], heap[i]) = (heap[i], heap[smallest]);
            i = smallest;
        }
    }
}
