namespace LlmKit.ModelBuilder.Onnx;

using LlmKit.ModelBuilder.Lora;
using static GraphBuilder;

/// <summary>
/// Emits the <see cref="OnnxGraphForm.OrtGenAI"/> decoder: the graph the official onnxruntime-genai builder makes
/// for CPU. SimplifiedLayerNormalization for the first norm, then SkipSimplifiedLayerNormalization (com.microsoft)
/// carrying the residual stream; com.microsoft GroupQueryAttention fed by seqlens_k = int32(ReduceSum(mask) - 1)
/// and total_sequence_length = int32(Shape(mask)[1]); llama2.c's adjacent-pair RoPE as rotary_interleaved = 1,
/// fused into GroupQueryAttention with a packed QKV MatMul when head_size % 16 == 0 (position_ids is then not an
/// input), otherwise as separate RotaryEmbedding nodes; SiLU as Sigmoid·Mul; optional MatMulNBits int4 weights.
/// </summary>
internal sealed class OrtGenAiGraphEmitter
{
    private const string Microsoft = "com.microsoft";
    private readonly GraphBuilder _g;
    private readonly TensorStore _store;
    private readonly Llama2cWeights _w;
    private readonly LlamaConfig _c;
    private readonly int _maxLength;
    private readonly WeightPrecision _precision;
    private readonly bool _zeroPoints;
    private readonly int _accuracyLevel;

    public OrtGenAiGraphEmitter(GraphBuilder graph, TensorStore store, Llama2cWeights weights, int maxLength, WeightPrecision precision, bool int4ZeroPoints, int int4AccuracyLevel)
    {
        _accuracyLevel = int4AccuracyLevel;
        _g = graph;
        _store = store;
        _w = weights;
        _c = weights.Config;
        _maxLength = maxLength;
        _precision = precision;
        _zeroPoints = int4ZeroPoints;
    }

    private LoraGraphInputs? _lora;

    /// <summary>
    /// Adds LoRA inputs to every projection (q, k, v, o, gate, up, down of every layer): y = x·W + (x·A)·B where A
    /// [in, lora_rank] and B [lora_rank, out] are graph inputs whose default initializers have rank 0, so the base
    /// model runs unchanged until an adapter (an .onnx_adapter file, or the inputs fed directly) supplies them.
    /// </summary>
    public OrtGenAiGraphEmitter WithLoraInputs()
    {
        _lora = new LoraGraphInputs(_g);
        return this;
    }

    /// <summary>GroupQueryAttention's fused rotary needs head_size % 16 == 0 on CPU.</summary>
    public static bool UsesFusedRotary(LlamaConfig config) => config.HeadSize % 16 == 0;

    public void Emit(CancellationToken cancellationToken)
    {
        bool fused = UsesFusedRotary(_c);
        DecoderIo.DeclareInputsAndOutputs(_g, _c, withPositionIds: !fused);

        const string table = "model.embed_tokens.weight";
        _g.Initializer(_store.Float(table, [_c.VocabSize, _c.Dim], span => _w.TokenEmbedding.CopyTo(span)));
        string embedded = _g.Node("Gather", "/model/embed_tokens/Gather", [table, "input_ids"]);
        var (seqlensK, totalLength) = AttentionMaskInfo();
        RopeCaches();

        // root carries the residual stream; skip is the branch output still to be added to it.
        string root = embedded, skip = "";
        for (int l = 0; l < _c.Layers; l++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string normed;
            if (l == 0)
            {
                normed = FirstNorm("/model/layers.0/input_layernorm/LayerNorm", "model.layers.0.input_layernorm.weight", root, _w.Layer(_w.RmsAttention, 0));
            }
            else
            {
                (normed, root) = SkipNorm($"/model/layers.{l}/input_layernorm", $"model.layers.{l}.input_layernorm.weight", root, skip, _w.Layer(_w.RmsAttention, l), last: false);
            }

            skip = Attention(l, normed, seqlensK, totalLength, fused);
            (normed, root) = SkipNorm($"/model/layers.{l}/post_attention_layernorm", $"model.layers.{l}.post_attention_layernorm.weight", root, skip, _w.Layer(_w.RmsFeedForward, l), last: false);
            skip = Mlp(l, normed);
        }

        int final = _c.Layers;
        var (finalNormed, _) = SkipNorm($"/model/layers.{final}/final_norm_layernorm", $"model.layers.{final}.final_norm_layernorm.weight", root, skip, _w.RmsFinal, last: true);
        Linear("/lm_head", finalNormed, [_w.Classifier], _c.VocabSize, _c.Dim, outputName: "logits");
    }

    private (string SeqlensK, string TotalLength) AttentionMaskInfo()
    {
        const string p = "/model/attn_mask_reformat/attn_mask_subgraph";
        string one = _g.Int64Vector("/model/constants/INT64/[1]", 1);
        string sum = _g.Node("ReduceSum", $"{p}/ReduceSum", ["attention_mask", one], Attr("keepdims", 0L));
        string lengths = _g.Node("Sub", $"{p}/Sub", [sum, _g.Int64Constant("/model/constants/INT64/1", [], 1)]);
        string seqlensK = _g.Node("Cast", $"{p}/Sub/Cast", [lengths], Attr("to", (long)Int32));
        string shape = _g.Node("Shape", $"{p}/Shape", ["attention_mask"]);
        string total = _g.Node("Gather", $"{p}/Gather", [shape, _g.Int64Constant("/model/constants/INT64/1", [], 1)], Attr("axis", 0L));
        return (seqlensK, _g.Node("Cast", $"{p}/Gather/Cast", [total], Attr("to", (long)Int32)));
    }

    // Scaled (linear, llama3, yarn, longrope) when the config says so; longrope with two factor sets gets two table
    // pairs and a switch on the total length (the int64 Gather output above); dynamic NTK's frequencies depend on each
    // run's length, so its tables are inputs the runtime fills.
    private void RopeCaches()
    {
        if (_c.RopeScaling?.Type == RopeScalingType.Dynamic)
        {
            DynamicRopeInputs.Declare(_g, _maxLength, _c.HeadSize / 2);
            return;
        }

        RopeCacheSwitch.Emit(_g, _store.Float, Float, _maxLength, _c.HeadSize / 2, _c.RopeScaling, _c.RopeFrequenciesFor,
            "/model/attn_mask_reformat/attn_mask_subgraph/Gather/output_0");
    }

    private string Attention(int l, string input, string seqlensK, string totalLength, bool fused)
    {
        string p = $"/model/layers.{l}/attn";
        int d = _c.Dim, kvDim = _c.KvDim;
        var attributes = new[]
        {
            Attr("num_heads", (long)_c.Heads),
            Attr("kv_num_heads", (long)_c.KvHeads),
            Attr("scale", 1f / MathF.Sqrt(_c.HeadSize)),
            Attr("do_rotary", fused ? 1L : 0L),
            Attr("rotary_interleaved", 1L), // llama2.c rotates adjacent pairs
        };
        string[] inputs;
        if (fused)
        {
            // One packed [q | k | v] projection; GroupQueryAttention splits it and applies RoPE itself.
            string qkv = Linear($"{p}/qkv_proj", input, [_w.Layer(_w.Wq, l), _w.Layer(_w.Wk, l), _w.Layer(_w.Wv, l)], d + (2 * kvDim), d);
            if (_lora is not null)
            {
                // The packed projection gets the three deltas side by side, in its [q | k | v] order.
                qkv = _lora.WrapPacked(l, input, qkv, d, kvDim, d);
            }

            inputs = [qkv, "", "", $"past_key_values.{l}.key", $"past_key_values.{l}.value", seqlensK, totalLength, "cos_cache", "sin_cache"];
        }
        else
        {
            string q = WithLora(l, LoraModule.All[0], input, Linear($"{p}/q_proj", input, [_w.Layer(_w.Wq, l)], d, d));
            string k = WithLora(l, LoraModule.All[1], input, Linear($"{p}/k_proj", input, [_w.Layer(_w.Wk, l)], kvDim, d));
            string v = WithLora(l, LoraModule.All[2], input, Linear($"{p}/v_proj", input, [_w.Layer(_w.Wv, l)], kvDim, d));
            q = _g.DomainNode(Microsoft, "RotaryEmbedding", $"{p}/q_rotary/RotaryEmbedding", [q, "position_ids", "cos_cache", "sin_cache"], Attr("interleaved", 1L));
            k = _g.DomainNode(Microsoft, "RotaryEmbedding", $"{p}/k_rotary/RotaryEmbedding", [k, "position_ids", "cos_cache", "sin_cache"], Attr("interleaved", 1L));
            inputs = [q, k, v, $"past_key_values.{l}.key", $"past_key_values.{l}.value", seqlensK, totalLength];
        }

        string name = $"{p}/GroupQueryAttention";
        string output = $"{name}/output_0";
        _g.AddNode("GroupQueryAttention", name, inputs, [output, $"present.{l}.key", $"present.{l}.value"], Microsoft, attributes);
        return WithLora(l, LoraModule.All[3], output, Linear($"{p}/o_proj", output, [_w.Layer(_w.Wo, l)], d, d));
    }

    private string Mlp(int l, string input)
    {
        string p = $"/model/layers.{l}/mlp";
        string gate = WithLora(l, LoraModule.All[4], input, Linear($"{p}/gate_proj", input, [_w.Layer(_w.W1, l)], _c.HiddenDim, _c.Dim));
        string up = WithLora(l, LoraModule.All[5], input, Linear($"{p}/up_proj", input, [_w.Layer(_w.W3, l)], _c.HiddenDim, _c.Dim));
        string silu = _g.Node("Mul", $"{p}/act_fn/Mul", [gate, _g.Node("Sigmoid", $"{p}/act_fn/Sigmoid", [gate])]);
        string hidden = _g.Node("Mul", $"{p}/Mul", [silu, up]);
        return WithLora(l, LoraModule.All[6], hidden, Linear($"{p}/down_proj", hidden, [_w.Layer(_w.W2, l)], _c.Dim, _c.HiddenDim));
    }

    private string WithLora(int l, LoraModule module, string input, string baseOutput)
    {
        if (_lora is null)
        {
            return baseOutput;
        }

        var (n, k) = module.Shape(_c);
        return _lora.Wrap(l, module, input, baseOutput, n, k);
    }

    private string FirstNorm(string name, string weightName, string input, ReadOnlyMemory<float> weight)
    {
        _g.Initializer(_store.Float(weightName, [weight.Length], s => weight.Span.CopyTo(s)));
        string output = $"{name[..name.LastIndexOf('/')]}/output_0";
        _g.AddNode("SimplifiedLayerNormalization", name, [input, weightName], [output], "", Attr("axis", -1L), Attr("epsilon", _c.NormEps), Attr("stash_type", 1L));
        return output;
    }

    // SkipSimplifiedLayerNormalization: output 0 = RMSNorm(root + skip), output 3 = root + skip (the new residual).
    private (string Normed, string Residual) SkipNorm(string p, string weightName, string root, string skip, ReadOnlyMemory<float> weight, bool last)
    {
        _g.Initializer(_store.Float(weightName, [weight.Length], s => weight.Span.CopyTo(s)));
        string normed = $"{p}/output_0", residual = $"{p}/output_3";
        string[] outputs = last ? [normed] : [normed, "", "", residual];
        _g.AddNode("SkipSimplifiedLayerNormalization", $"{p}/SkipLayerNorm", [root, skip, weightName], outputs, Microsoft, Attr("epsilon", _c.NormEps));
        return (normed, residual);
    }

    // y = x · Wᵀ for W = the row-wise concatenation of parts ([n, k] in llama2.c layout): MatMul over a
    // pre-transposed fp32 weight, or MatMulNBits over 4-bit blocks.
    private string Linear(string basename, string input, ReadOnlyMemory<float>[] parts, int n, int k, string? outputName = null)
    {
        string weightPrefix = basename[1..].Replace('/', '.');
        ReadOnlyMemory<float> weight = parts.Length == 1 ? parts[0] : Concat(parts);
        if (_precision == WeightPrecision.Fp32)
        {
            string name = $"{basename}/MatMul";
            string weightName = $"{weightPrefix}.MatMul.weight";
            _g.Initializer(_store.Float(weightName, [k, n], s => WeightTransforms.Transpose(weight.Span, n, k, s)));
            string output = outputName ?? $"{name}/output_0";
            _g.AddNode("MatMul", name, [input, weightName], [output]);
            return output;
        }

        return MatMulNBitsEmitter.Emit(_g, _store, basename, weightPrefix, input, weight, n, k, _accuracyLevel, _zeroPoints, outputName);
    }

    private static float[] Concat(ReadOnlyMemory<float>[] parts)
    {
        var all = new float[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (var part in parts)
        {
            part.Span.CopyTo(all.AsSpan(at));
            at += part.Length;
        }

        return all;
    }
}
