using LlmKit.ModelBuilder.Onnx;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>Weights whose projections are replaced by their int4 round trip, for an exact int4 reference.</summary>
internal static class Int4Weights
{
    public static Llama2cWeights DequantizedCopy(Llama2cWeights source, bool zeroPoints)
    {
        var c = source.Config;
        var copy = new Llama2cWeights(c);
        source.TokenEmbedding.CopyTo(copy.TokenEmbedding, 0);
        source.RmsAttention.CopyTo(copy.RmsAttention, 0);
        source.RmsFeedForward.CopyTo(copy.RmsFeedForward, 0);
        source.RmsFinal.CopyTo(copy.RmsFinal, 0);
        for (int l = 0; l < c.Layers; l++)
        {
            RoundTrip(source, copy, s => s.Wq, l, c.Dim, c.Dim, zeroPoints);
            RoundTrip(source, copy, s => s.Wk, l, c.KvDim, c.Dim, zeroPoints);
            RoundTrip(source, copy, s => s.Wv, l, c.KvDim, c.Dim, zeroPoints);
            RoundTrip(source, copy, s => s.Wo, l, c.Dim, c.Dim, zeroPoints);
            RoundTrip(source, copy, s => s.W1, l, c.HiddenDim, c.Dim, zeroPoints);
            RoundTrip(source, copy, s => s.W2, l, c.Dim, c.HiddenDim, zeroPoints);
            RoundTrip(source, copy, s => s.W3, l, c.HiddenDim, c.Dim, zeroPoints);
        }

        // The LM head is quantised too, but the embedding lookup stays fp32: a tied classifier becomes untied here.
        float[] head = Quantized(source.Classifier, c.VocabSize, c.Dim, zeroPoints);
        var untied = new Llama2cWeights(c with { SharedClassifier = false });
        foreach (var ((_, from), (_, to)) in copy.InFileOrder().Zip(untied.InFileOrder()))
        {
            from.CopyTo(to, 0);
        }

        head.CopyTo(untied.Classifier, 0);
        return untied;
    }

    private static void RoundTrip(Llama2cWeights source, Llama2cWeights target, Func<Llama2cWeights, float[]> tensor, int layer, int n, int k, bool zeroPoints)
    {
        float[] q = Quantized(source.Layer(tensor(source), layer).ToArray(), n, k, zeroPoints);
        q.CopyTo(tensor(target), layer * n * k);
    }

    private static float[] Quantized(float[] weight, int n, int k, bool zeroPoints)
    {
        int blocks = Int4Quantizer.Blocks(k);
        var packed = new byte[n * blocks * Int4Quantizer.BlobBytes];
        var scales = new float[n * blocks];
        var zp = new byte[zeroPoints ? n * Int4Quantizer.ZeroPointBytesPerRow(k) : 0];
        Int4Quantizer.Quantize(weight, n, k, packed, scales, zp, zeroPoints);
        return Int4Quantizer.Dequantize(packed, scales, zp, n, k);
    }
}
