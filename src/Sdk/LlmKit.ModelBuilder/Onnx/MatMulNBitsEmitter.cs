using static LlmKit.ModelBuilder.Onnx.GraphBuilder;

namespace LlmKit.ModelBuilder.Onnx;

/// <summary>
/// y = x · Wᵀ for W [n, k] as com.microsoft MatMulNBits over 4-bit blocks, in the official builder's tensor names
/// (<c>{prefix}.MatMulNBits.qweight</c>, <c>.scales</c>, <c>.qzeros</c>). Shared by the llama2.c and Hugging Face emitters.
/// </summary>
internal static class MatMulNBitsEmitter
{
    /// <summary>Quantises <paramref name="weight"/>, adds its initializers and the node; returns the output name.</summary>
    /// <param name="g">The graph.</param>
    /// <param name="store">Where the initializers' data goes.</param>
    /// <param name="basename">The node path, e.g. <c>/model/layers.0/attn/o_proj</c>.</param>
    /// <param name="weightPrefix">The initializer name prefix, e.g. <c>model.layers.0.attn.o_proj</c>.</param>
    /// <param name="input">The activation input.</param>
    /// <param name="weight">W, row-major [n, k].</param>
    /// <param name="n">Output width.</param>
    /// <param name="k">Input width.</param>
    /// <param name="accuracyLevel">0 (exact fp32 activations, ONNX Runtime's default, left out of the graph) or 1-4.</param>
    /// <param name="zeroPoints">Asymmetric blocks with a zero point each; false for symmetric ones.</param>
    /// <param name="outputName">The output's name, or null for <c>{basename}/MatMulNBits/output_0</c>.</param>
    public static string Emit(GraphBuilder g, TensorStore store, string basename, string weightPrefix, string input, ReadOnlyMemory<float> weight,
        int n, int k, int accuracyLevel, bool zeroPoints, string? outputName)
    {
        string nbits = $"{basename}/MatMulNBits";
        string prefix = $"{weightPrefix}.MatMulNBits";
        int blocks = Int4Quantizer.Blocks(k);
        var scales = new float[n * blocks];
        var zeros = new byte[zeroPoints ? n * Int4Quantizer.ZeroPointBytesPerRow(k) : 0];
        g.Initializer(store.Bytes($"{prefix}.qweight", [n, blocks, Int4Quantizer.BlobBytes],
            packed => Int4Quantizer.Quantize(weight.Span, n, k, packed, scales, zeros, zeroPoints)));
        g.Initializer(store.Float($"{prefix}.scales", [n * blocks], s => scales.CopyTo(s)));
        var inputs = new List<string> { input, $"{prefix}.qweight", $"{prefix}.scales" };
        if (zeroPoints)
        {
            g.Initializer(store.Bytes($"{prefix}.qzeros", [zeros.Length], s => zeros.CopyTo(s)));
            inputs.Add($"{prefix}.qzeros");
        }

        string result = outputName ?? $"{nbits}/output_0";
        var attributes = new List<Protos.AttributeProto> { Attr("K", (long)k), Attr("N", (long)n), Attr("bits", 4L), Attr("block_size", (long)Int4Quantizer.BlockSize) };
        if (accuracyLevel > 0)
        {
            // Level 0 is ONNX Runtime's default, so it is left out: the graph then says "exact" by omission.
            attributes.Add(Attr("accuracy_level", (long)accuracyLevel));
        }

        g.AddNode("MatMulNBits", nbits, inputs, [result], "com.microsoft", [.. attributes]);
        return result;
    }
}
