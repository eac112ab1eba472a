package distress

import "regexp"

// The patterns below are written with their letters as in the dictionary
// and squeezed when compiled, as texts are ("kill" matches "kil", "killl"
// and "kiiill"). They match normalised text: lower case, no accents, no
// apostrophes ("dont", "im", "cant"), words separated by one space. A "$"
// is the end of the text.

// rules are tried in order; the first that matches names the result.
var rules = []rule{
	// English
	{"en.suicide", phrase(`suicide|suicidal|suicidally|suicidio`), true},
	{"en.kill-myself", phrase(`(kill|killing|killed|murder) my ?self|kms|unalive (my ?self|me)`), true},
	{"en.want-to-die", phrase(`(want|wana|wanted|wish|need|ready|going|gona|deserve|should|rather|like) (to )?(just )?(die|be dead|not be alive|not wake up)|(wish|hope) i (was|were|was just|were just) dead|better off dead|i should (just )?die|rather be dead`), true},
	{"en.not-live", phrase(`(dont|do not|dont really|no longer|not|never) (want|wana|wish|feel like) (to )?(live|be alive|keep living|go on|wake up|exist)( anymore| any more| again| like this)?|(dont|do not) want to be here( anymore| any more| no more| now| tonight| on this earth| in this world|$)`), false},
	{"en.not-exist", phrase(`(wish|want|like) (i|to) (didnt|did not|could|to|would)? ?(just )?(not exist|stop existing|disappear|vanish)( forever| for good| and never come back| and never| completely| from (this|the) world|$)|never (been|have been|had been) born|stop existing|want to not exist|wish i didnt exist`), false},
	{"en.cant-go-on", phrase(`(cant|cannot|can not|couldnt) (go on|keep going|keep living|live like this|do this anymore|take it anymore|take this anymore|take it any more|keep doing this|handle life|cope anymore)`), false},
	{"en.no-reason", phrase(`no (reason|point|purpose) (to|in|of|for)? ?(go on|going on|keep going|live|living|being alive|be alive|continue|carry on|being here|me being here)|(what is|whats) (even )?the point (of|in) (living|life|going on|anything|being alive)|(what is|whats) (even )?the point anymore|(life|living) (isnt|is not|aint) worth (living|it)|not worth living|(my life|i) (is|am|feel) (worthless|pointless)|nothing to live for`), false},
	{"en.better-off", phrase(`better off (dead|without me|if i (was|were|wasnt) (gone|dead|not here|around|here))|(happier|better) without me|(be|been) (happier|better) if i (was|were) (gone|dead)`), false},
	{"en.burden", phrase(`(im|i am|i feel|feel like|ill be|wont be|not be|just)( such| just| only| a huge)? a burden`), true},
	{"en.nobody-miss", phrase(`(nobody|no one|noone|no body) (would|will|wud|gona|is going to)( even)? (miss me|notice|care|know)|(nobody|no one|noone) (cares|would care) (if|whether) (i|im)|if i (live|lived) or (die|died)|if im (alive|dead)`), false},
	{"en.end-life", phrase(`end (it all|everything|my (own )?life|it tonight)|ending (it all|everything|my (own )?life)|(take|taking|took|taken) my (own )?life|(plan|planning|planned) to end it|(ive|i have|i) (made|got|have) a plan$|(thoughts|thinking) of (ending|taking) my`), false},
	{"en.self-harm", phrase(`(hurt|hurting|harm|harming|cut|cutting|burn|burned|burnt|burning|scratch|scratched|scratching|punish|punishing|starve|starving) (my ?self|myself)|self ?harm(ing|ed)?|cutting again|(started|start|been|keep|kept|back to) cutting|scratch(ing|ed)? my (arms|wrists|legs)( until| till|$)|(cut|slit|cutting) my (wrists|arms)`), true},
	{"en.not-safe", phrase(`not safe( right now| now| tonight| today| anymore| with myself| around myself| alone| at home| here)?$|(im|i am|i feel|feeling) not safe( right now| now| tonight| with myself| around myself| anymore)|(dont|do not|dont really) feel safe( with myself| right now| tonight| around myself| anymore|$)|(scared|afraid|frightened) (of|about) what i (might|could|will|would) do|(might|could|going to|gona) do something (stupid|dumb|drastic) (tonight|today|to myself)?`), false},
	{"en.pills", phrase(`(took|taken|take|taking|swallowed|swallow) (a bunch of|all|all my|all the|too many|a lot of|so many|loads of|a handful of|a whole bottle of|the whole bottle of) (pills|tablets|meds|sleeping pills|painkillers)|(pills|tablets|meds) in front of me|(saving|stockpiling|hoarding|saved|collecting) (up )?(my |all my )?(pills|tablets|meds)|overdose|overdosing|od tonight`), true},
	{"en.jump", phrase(`jump(ing)? (off|from) (a|the|my) (bridge|building|roof|balcony|cliff|tower)|(jump|jumping|step|stepping|walk|walking|throw myself|lie down) in front of (a|the) (train|bus|car|truck|subway)`), true},
	{"en.goodbye", phrase(`goodbye (everyone|everybody|all|forever|world|for good|cruel world)|this is (my )?goodbye|this is my last (message|text)|goodbye (letter|letters|note|notes)|(wont|will not|not going to) be (around|here|alive) (much longer|for long|next week|tomorrow|anymore|by)`), false},
	{"en.hopeless", phrase(`hopeless|no way out|(give|giving|gave) up on (life|everything|myself|living|it all)|(ive|i have|i ve) given up$|i give up$|(done|finished) with (life|living|everything|being alive|it all|this life)|(tired|sick|exhausted|weary) (of|from) (living|life|being alive|existing|being here)|no future for me|dont see a future|(trapped|stuck) and want out|want out of (life|this life)|nothing matters( anymore)?$|(the pain|it all|everything) to (end|stop)( forever)?$|(it|the pain) to (end|stop) forever`), true},
	{"en.sleep-forever", phrase(`(sleep|sleeping) (forever|and never wake( up)?|and not wake( up)?)|(hope|wish) i (dont|do not|never|wont) wake up|never wake up again`), false},
	{"en.death-thoughts", phrase(`(think|thinking|thought|thoughts) (about|of) (dying|death|killing myself|ending it|suicide|my death)( every day| a lot| all the time| constantly|$)|death (seems|is|feels) (like )?the (only|best) (way|option|answer|choice)|only way out|(im|i am) ready to go$|ready to die`), true},
	{"en.dying-inside", phrase(`dying inside|(im|i am) not (going to|gona) make it$|(not|no) ok(ay)?( at all)?( and| im| i am)? (not safe|scared)`), false},

	// Spanish
	{"es.want-to-die", phrase(`(me )?(quiero|queria|quisiera|deseo|necesito|voy a) (morir|morirme|estar muerto|estar muerta)|(ojala|quisiera|preferiria|prefiero) (estar|estuviera|estuviese) (muerto|muerta)|ojala (me muera|morirme|morir)|(me )?(deberia|mereceria|merezco) morir`), true},
	{"es.kill-myself", phrase(`matarme|me (quiero|voy a|voy a|puedo) matar|suicidarme|suicidar|me (quiero|voy a) suicidar|suicida|suicidas|suicidio|quitarme la vida|me quito la vida`), true},
	{"es.not-live", phrase(`no quiero (seguir )?(vivir|viviendo|existir|estar aqui|estar viva|estar vivo|despertar)|no quiero vivir asi|dejar de existir|(ojala|quisiera|preferiria) no (haber|hubiera|hubiese) nacido`), false},
	{"es.no-aguanto", phrase(`no aguanto (mas|esta vida|esto|vivir|la vida)|ya no aguanto$|no aguanto$`), false},
	{"es.no-puedo-mas", phrase(`no puedo mas$|no puedo mas (con esto|con mi vida|con la vida|con todo|con esta vida)|no puedo seguir (asi|viviendo|adelante|con esto|con mi vida|mas)`), false},
	{"es.no-reason", phrase(`no (tengo|hay|encuentro|veo|queda) (razon|razones|motivo|motivos|sentido)( para| de)? ?(vivir|seguir|continuar|estar aqui)|no le (veo|encuentro) sentido a (la|mi) vida|(mi vida|la vida) no tiene sentido|nada tiene sentido|(no vale|ya no vale) la pena (vivir|seguir)|la vida no vale la pena|vida sin sentido`), false},
	{"es.nobody-miss", phrase(`nadie me (extranaria|extranara|echaria de menos|echara de menos|notaria)|a nadie le (importa|importaria) si (vivo|muero|me muero|desaparezco|estoy)|(estarian|estaria|estaran|estara|serian|seria|vivirian) mejor sin mi|mejor si yo no (estuviera|existiera)|soy (una|un) (carga|estorbo)|(dejare|dejar) de ser (una carga|un problema|un estorbo)`), false},
	{"es.disappear", phrase(`(quiero|quisiera|pudiera|gustaria|deseo) desaparecer( para siempre| del mundo| de este mundo| y no volver|$)`), true},
	{"es.sleep-forever", phrase(`(dormir|dormirme) y no (despertar|volver a despertar)|no despertar (manana|nunca|mas|jamas)|ojala no despertar`), false},
	{"es.self-harm", phrase(`me (corte|corto|he cortado)( otra vez| de nuevo| las venas| los brazos| las munecas| a proposito|$)|cortarme( las venas| los brazos| otra vez| de nuevo|$)|(he vuelto|volvi|vuelvo) a (cortarme|cortar)|me hago dano|hacerme (dano|algo)|me hice dano (a proposito|otra vez|de nuevo)|lastimarme|me estoy lastimando|lastim(e|o|ado|ando) a proposito|autolesion\w*`), true},
	{"es.not-safe", phrase(`no (estoy|me siento) (a salvo|segura|seguro)( conmigo misma| conmigo mismo| ahora| esta noche| en casa| aqui|$)|miedo de (lo que pueda hacerme|hacerme)`), false},
	{"es.pills", phrase(`(tome|tomado|tomar|tomarme|trague|tragarme) (muchas|todas las|todas mis|un monton de|demasiadas|un punado de) (pastillas|pildoras)|tengo las (pastillas|pildoras) (aqui|listas|conmigo|delante)|sobredosis`), true},
	{"es.jump", phrase(`(tirarme|lanzarme|aventarme) (de|por|desde|a|al) (un |una |el |la |las )?(puente|ventana|edificio|balcon|azotea|tren|metro|vias)`), true},
	{"es.end-life", phrase(`(acabar|terminar) con (todo|mi vida)|esto es (una|mi) despedida|(este es|es) mi ultimo mensaje|adios a todos|(ya )?no estare (aqui|mas)|(tengo|hice) un plan para (matarme|morir|acabar)`), false},
	{"es.hopeless", phrase(`me rindo$|(ya )?me rendi$|me rindo con (la vida|todo)|no (hay|veo) salida|estoy (desesperada|desesperado)$|sin esperanza|(harta|harto|cansada|cansado) de (vivir|la vida|estar viva|estar vivo|existir)|(la muerte|morir) es la (unica|mejor) salida|(pienso|pensando) en (la muerte|morir|matarme)|muriendo por dentro|todo es inutil`), true},
	{"es.not-ok", phrase(`(ayuda|ayudame|auxilio)( por favor)? no estoy bien|no estoy bien (tengo miedo|ayuda|ayudame)`), false},
}

// idioms are set aside before the rules are tried.
var idioms = compileAll(
	// English
	`dying (to|for) \w+`, `(die|died|dying|dead|kill|killed|killing) (laughing|of laughter|from laughing)`,
	`laugh(ed|ing)? (myself )?to death`, `(kill|killing|killed) (myself|me) (laughing|with laughter)`,
	`killing myself (at|in|with|over) (the gym|work|training|this workout|this project)`,
	`(die|dying|died) of (boredom|embarrassment|shame|cuteness|hunger|thirst|heat|cold)`, `to die for`, `die ?hard`, `live and let die`, `(would|d|could) die for`, `(disappear|vanish)(ing|ed)? into`,
	`suicide squad`, `hopeless (at|romantic|with|case)`, `dead (tired|serious|end|battery|on my feet)`,
	`(phone|battery|plant|plants|car|laptop|tv|wifi) (died|is dead|was dead)`, `(bored|scared|worried|tickled) to death`,
	`(work|worked|working) (myself|me) to death`, `killing (it|time)`,
	// Spanish
	`me muero (de|por) \w+`, `(me )?mori de (la )?risa`, `(morir|morirme|morir me) de (la )?risa`,
	`muriendo de \w+`, `(muerto|muerta) de (cansancio|hambre|risa|sueno|miedo|frio|calor|aburrimiento|verguenza)`,
	`no puedo mas de (la )?risa`, `matame camion`, `me (mata|matan|mataste|mato) (de|con) (la )?risa`,
	`(me )?(esta|estan) matando`,
)

// shortDanger are words that, in a short text, err towards help.
var shortDanger = []struct {
	lang string
	re   *regexp.Regexp
}{
	{"en", phrase(`help me|please help|need help|sos|die|dying|kill me|end me|im done|not ok|not okay|cant anymore|cant do this|want out`)},
	{"es", phrase(`me muero|morir|morirme|muerte|ayudame|auxilio|socorro|no estoy bien|no puedo|me quiero ir|matenme`)},
}

// laughter in a short text keeps it from being read as danger.
var laughter = regexp.MustCompile(`\b(lol|lmao|lmfao|rofl|xd|(ha){2,}h?|(ja){2,}j?|(je){2,}|(ji){2,}|haha|jaja)\b`)

func compileAll(ps ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(ps))
	for i, p := range ps {
		out[i] = phrase(p)
	}
	return out
}
