namespace LlmKit.ModelBuilder.Onnx;

using static GraphBuilder;

/// <summary>
/// Emits the <see cref="OnnxGraphForm.Standard"/> decoder: standard ONNX operators only (plus
/// SimplifiedLayerNormalization, which ONNX Runtime registers in the default domain), exact in float32 and
/// independent of head size. Attention is written out (MatMul, Softmax) with an additive mask that combines
/// causality with the attention_mask padding; grouped-query attention broadcasts each key/value head over its
/// query heads instead of copying it.
/// </summary>
internal sealed class StandardGraphEmitter
{
    private readonly GraphBuilder _g;
    private readonly TensorStore _store;
    private readonly Llama2cWeights _w;
    private readonly LlamaConfig _c;
    private readonly int _maxLength;

    public StandardGraphEmitter(GraphBuilder graph, TensorStore store, Llama2cWeights weights, int maxLength)
    {
        _g = graph;
        _store = store;
        _w = weights;
        _c = weights.Config;
        _maxLength = maxLength;
    }

    public void Emit(CancellationToken cancellationToken)
    {
        DecoderIo.DeclareInputsAndOutputs(_g, _c, withPositionIds: true);

        string x = Embedding();
        string bias = AttentionBias();
        var (cos, sin) = RopeAngles();
        for (int l = 0; l < _c.Layers; l++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            x = Layer(l, x, bias, cos, sin);
        }

        string normed = RmsNorm("/model/norm/SimplifiedLayerNorm", "model.norm.weight", x, _w.RmsFinal);
        string lmHead = Projection("lm_head.MatMul.weight", _w.Classifier, _c.VocabSize, _c.Dim);
        _g.AddNode("MatMul", "/lm_head/MatMul", [normed, lmHead], ["logits"]);
    }

    private string Embedding()
    {
        string table = "model.embed_tokens.weight";
        _g.Initializer(_store.Float(table, [_c.VocabSize, _c.Dim], span => _w.TokenEmbedding.CopyTo(span)));
        return _g.Node("Gather", "/model/embed_tokens/Gather", [table, "input_ids"]);
    }

    // bias[b, 1, 1, i, j] = 0 where key j is visible to query i (j <= past + i and attention_mask[b, j] = 1), else float.MinValue.
    // A finite minimum (not -inf) keeps fully padded rows finite instead of NaN.
    private string AttentionBias()
    {
        const string p = "/model/attn_mask";
        string zero = _g.Int64Constant("/model/constants/INT64/0", [], 0);
        string one = _g.Int64Constant("/model/constants/INT64/1", [], 1);
        string inputShape = _g.Node("Shape", $"{p}/input_ids/Shape", ["input_ids"]);
        string seqLen = _g.Node("Gather", $"{p}/seq_len/Gather", [inputShape, one], Attr("axis", 0L));
        string maskShape = _g.Node("Shape", $"{p}/attention_mask/Shape", ["attention_mask"]);
        string totalLen = _g.Node("Gather", $"{p}/total_len/Gather", [maskShape, one], Attr("axis", 0L));
        string pastLen = _g.Node("Sub", $"{p}/past_len/Sub", [totalLen, seqLen]);

        string queryRange = _g.Node("Range", $"{p}/query_positions/Range", [zero, seqLen, one]);
        string queryPositions = _g.Node("Add", $"{p}/query_positions/Add", [queryRange, pastLen]);
        string queryColumn = _g.Node("Unsqueeze", $"{p}/query_positions/Unsqueeze", [queryPositions, _g.Int64Vector("/model/constants/INT64/[1]", 1)]);
        string keyRange = _g.Node("Range", $"{p}/key_positions/Range", [zero, totalLen, one]);
        string keyRow = _g.Node("Unsqueeze", $"{p}/key_positions/Unsqueeze", [keyRange, _g.Int64Vector("/model/constants/INT64/[0]", 0)]);
        string causal = _g.Node("LessOrEqual", $"{p}/causal/LessOrEqual", [keyRow, queryColumn]);

        string padding = _g.Node("Cast", $"{p}/padding/Cast", ["attention_mask"], Attr("to", (long)Bool));
        string padding3 = _g.Node("Unsqueeze", $"{p}/padding/Unsqueeze", [padding, _g.Int64Vector("/model/constants/INT64/[1]", 1)]);
        string visible = _g.Node("And", $"{p}/visible/And", [causal, padding3]);
        string bias = _g.Node("Where", $"{p}/bias/Where", [visible, _g.FloatScalar("/model/constants/FLOAT/0", 0f), _g.FloatScalar("/model/constants/FLOAT/min", float.MinValue)]);
        return _g.Node("Unsqueeze", $"{p}/bias/Unsqueeze", [bias, _g.Int64Vector("/model/constants/INT64/[1, 2]", 1, 2)]);
    }

    // cos/sin [batch, seq, 1, head_size/2, 1] gathered from precomputed tables by position_ids.
    private (string Cos, string Sin) RopeAngles()
    {
        int half = _c.HeadSize / 2;
        var frequencies = _c.RopeFrequenciesFor(_maxLength); // scaled (linear, llama3, yarn, longrope) when the config says so
        _g.Initializer(_store.Float("cos_cache", [_maxLength, half], s => WeightTransforms.RopeTable(s, _maxLength, frequencies, cosine: true)));
        _g.Initializer(_store.Float("sin_cache", [_maxLength, half], s => WeightTransforms.RopeTable(s, _maxLength, frequencies, cosine: false)));
        string axes = _g.Int64Vector("/model/constants/INT64/[2, 4]", 2, 4);
        string cos = _g.Node("Gather", "/model/rotary/cos/Gather", ["cos_cache", "position_ids"]);
        string sin = _g.Node("Gather", "/model/rotary/sin/Gather", ["sin_cache", "position_ids"]);
        return (_g.Node("Unsqueeze", "/model/rotary/cos/Unsqueeze", [cos, axes]), _g.Node("Unsqueeze", "/model/rotary/sin/Unsqueeze", [sin, axes]));
    }

    private string Layer(int l, string x, string bias, string cos, string sin)
    {
        string p = $"/model/layers.{l}";
        string w = $"model.layers.{l}";
        int d = _c.Dim, kvDim = _c.KvDim, hs = _c.HeadSize, kvHeads = _c.KvHeads, group = _c.Heads / _c.KvHeads;

        string xn = RmsNorm($"{p}/input_layernorm/SimplifiedLayerNorm", $"{w}.input_layernorm.weight", x, _w.Layer(_w.RmsAttention, l));
        string q = MatMul($"{p}/attn/q_proj/MatMul", xn, Projection($"{w}.attn.q_proj.MatMul.weight", _w.Layer(_w.Wq, l), d, d));
        string k = MatMul($"{p}/attn/k_proj/MatMul", xn, Projection($"{w}.attn.k_proj.MatMul.weight", _w.Layer(_w.Wk, l), kvDim, d));
        string v = MatMul($"{p}/attn/v_proj/MatMul", xn, Projection($"{w}.attn.v_proj.MatMul.weight", _w.Layer(_w.Wv, l), kvDim, d));

        // q -> [batch, kv_heads, group, seq, head]: query head h = kv * group + j shares key/value head kv.
        string qRot = Rope($"{p}/attn/q_rotary", q, _c.Heads, cos, sin);
        string q5 = _g.Node("Reshape", $"{p}/attn/q/Reshape", [qRot, _g.Int64Vector($"/model/constants/INT64/[0, 0, {kvHeads}, {group}, {hs}]", 0, 0, kvHeads, group, hs)]);
        q5 = _g.Node("Transpose", $"{p}/attn/q/Transpose", [q5], Attr("perm", new long[] { 0, 2, 3, 1, 4 }));

        // k, v -> [batch, kv_heads, seq, head], appended to the cache.
        string kvShape = _g.Int64Vector($"/model/constants/INT64/[0, 0, {kvHeads}, {hs}]", 0, 0, kvHeads, hs);
        string kRot = Rope($"{p}/attn/k_rotary", k, kvHeads, cos, sin);
        string k4 = _g.Node("Transpose", $"{p}/attn/k/Transpose", [_g.Node("Reshape", $"{p}/attn/k/Reshape", [kRot, kvShape])], Attr("perm", new long[] { 0, 2, 1, 3 }));
        string v4 = _g.Node("Transpose", $"{p}/attn/v/Transpose", [_g.Node("Reshape", $"{p}/attn/v/Reshape", [v, kvShape])], Attr("perm", new long[] { 0, 2, 1, 3 }));
        string presentKey = $"present.{l}.key", presentValue = $"present.{l}.value";
        _g.AddNode("Concat", $"{p}/attn/k/Concat", [$"past_key_values.{l}.key", k4], [presentKey], "", Attr("axis", 2L));
        _g.AddNode("Concat", $"{p}/attn/v/Concat", [$"past_key_values.{l}.value", v4], [presentValue], "", Attr("axis", 2L));

        // Scores [batch, kv_heads, group, seq, total]: MatMul broadcasts the key head over its group.
        string unsqueeze2 = _g.Int64Vector("/model/constants/INT64/[2]", 2);
        string keys = _g.Node("Unsqueeze", $"{p}/attn/keys/Unsqueeze", [presentKey, unsqueeze2]);
        string keysT = _g.Node("Transpose", $"{p}/attn/keys/Transpose", [keys], Attr("perm", new long[] { 0, 1, 2, 4, 3 }));
        string scores = _g.Node("MatMul", $"{p}/attn/scores/MatMul", [q5, keysT]);
        scores = _g.Node("Div", $"{p}/attn/scores/Div", [scores, _g.FloatScalar($"/model/constants/FLOAT/sqrt({hs})", MathF.Sqrt(hs))]);
        scores = _g.Node("Add", $"{p}/attn/scores/Add", [scores, bias]);
        string probs = _g.Node("Softmax", $"{p}/attn/Softmax", [scores], Attr("axis", -1L));
        string values = _g.Node("Unsqueeze", $"{p}/attn/values/Unsqueeze", [presentValue, unsqueeze2]);
        string context = _g.Node("MatMul", $"{p}/attn/context/MatMul", [probs, values]);
        context = _g.Node("Transpose", $"{p}/attn/context/Transpose", [context], Attr("perm", new long[] { 0, 3, 1, 2, 4 }));
        context = _g.Node("Reshape", $"{p}/attn/context/Reshape", [context, _g.Int64Vector($"/model/constants/INT64/[0, 0, {d}]", 0, 0, d)]);
        string attnOut = MatMul($"{p}/attn/o_proj/MatMul", context, Projection($"{w}.attn.o_proj.MatMul.weight", _w.Layer(_w.Wo, l), d, d));
        x = _g.Node("Add", $"{p}/attn/residual/Add", [x, attnOut]);

        // SwiGLU feed-forward: down(silu(gate(x)) * up(x)), SiLU as Sigmoid·Mul like the official builder.
        string xn2 = RmsNorm($"{p}/post_attention_layernorm/SimplifiedLayerNorm", $"{w}.post_attention_layernorm.weight", x, _w.Layer(_w.RmsFeedForward, l));
        string gate = MatMul($"{p}/mlp/gate_proj/MatMul", xn2, Projection($"{w}.mlp.gate_proj.MatMul.weight", _w.Layer(_w.W1, l), _c.HiddenDim, d));
        string up = MatMul($"{p}/mlp/up_proj/MatMul", xn2, Projection($"{w}.mlp.up_proj.MatMul.weight", _w.Layer(_w.W3, l), _c.HiddenDim, d));
        string silu = _g.Node("Mul", $"{p}/mlp/act_fn/Mul", [gate, _g.Node("Sigmoid", $"{p}/mlp/act_fn/Sigmoid", [gate])]);
        string hidden = _g.Node("Mul", $"{p}/mlp/Mul", [silu, up]);
        string down = MatMul($"{p}/mlp/down_proj/MatMul", hidden, Projection($"{w}.mlp.down_proj.MatMul.weight", _w.Layer(_w.W2, l), d, _c.HiddenDim));
        return _g.Node("Add", $"{p}/mlp/residual/Add", [x, down]);
    }

    // llama2.c RoPE on [batch, seq, heads * head]: rotate adjacent pairs (x[2i], x[2i+1]).
    private string Rope(string p, string input, int heads, string cos, string sin)
    {
        int hs = _c.HeadSize;
        string pairs = _g.Node("Reshape", $"{p}/Reshape", [input, _g.Int64Vector($"/model/constants/INT64/[0, 0, {heads}, {hs / 2}, 2]", 0, 0, heads, hs / 2, 2)]);
        string[] halves = _g.NodeWithOutputs("Split", $"{p}/Split", [pairs, _g.Int64Vector("/model/constants/INT64/[1, 1]", 1, 1)], 2, "", Attr("axis", -1L));
        string x0 = halves[0], x1 = halves[1];
        string r0 = _g.Node("Sub", $"{p}/r0/Sub", [_g.Node("Mul", $"{p}/x0cos/Mul", [x0, cos]), _g.Node("Mul", $"{p}/x1sin/Mul", [x1, sin])]);
        string r1 = _g.Node("Add", $"{p}/r1/Add", [_g.Node("Mul", $"{p}/x0sin/Mul", [x0, sin]), _g.Node("Mul", $"{p}/x1cos/Mul", [x1, cos])]);
        string rotated = _g.Node("Concat", $"{p}/Concat", [r0, r1], Attr("axis", -1L));
        return _g.Node("Reshape", $"{p}/Reshape_1", [rotated, _g.Int64Vector($"/model/constants/INT64/[0, 0, {heads * hs}]", 0, 0, heads * hs)]);
    }

    private string RmsNorm(string name, string weightName, string input, ReadOnlyMemory<float> weight)
    {
        _g.Initializer(_store.Float(weightName, [weight.Length], s => weight.Span.CopyTo(s)));
        return _g.Node("SimplifiedLayerNormalization", name, [input, weightName], Attr("axis", -1L), Attr("epsilon", _c.NormEps), Attr("stash_type", 1L));
    }

    private string MatMul(string name, string input, string weight) => _g.Node("MatMul", name, [input, weight]);

    // Stores W [out, in] as Wᵀ [in, out] so the graph computes y = x · Wᵀ with a plain MatMul.
    private string Projection(string name, ReadOnlyMemory<float> weight, int outFeatures, int inFeatures)
    {
        _g.Initializer(_store.Float(name, [inFeatures, outFeatures], s => WeightTransforms.Transpose(weight.Span, outFeatures, inFeatures, s)));
        return name;
    }
}
